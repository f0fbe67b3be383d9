//! Eager workflow start and eager activity dispatch: work started for the
//! caller itself instead of going through matching.

use super::*;

#[test]
fn an_eager_start_starts_the_first_workflow_task_for_the_caller() {
    let config = Config::default();
    let request = StartWorkflowExecutionRequest { request_eager_execution: true, ..start_request() };
    let command = StartWorkflow { request: Some(request), run_id: RUN.into(), ..Default::default() };
    let outcome = start_workflow(NS, None, &command, Clock { now: 0, config: &config }).unwrap();
    let Reply::StartedEagerly { run_id, task } = &outcome.reply else { panic!("{:?}", outcome.reply) };
    assert_eq!(run_id, RUN);
    let h = Harness::with_new_run(config, 0, outcome.new_run.unwrap());
    assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted]);
    assert_eq!(task.started_event_id, 3);
    assert!(h.dispatched.is_empty(), "nothing goes to matching");
    let Some(EventAttributes::WorkflowExecutionStartedEventAttributes(started)) = &h.history[0].attributes else { panic!() };
    assert!(started.eager_execution_accepted);
}

#[test]
fn a_delayed_start_is_not_eager() {
    let config = Config::default();
    let request = StartWorkflowExecutionRequest {
        request_eager_execution: true,
        workflow_start_delay: Some(duration_from_nanos(S)),
        ..start_request()
    };
    let command = StartWorkflow { request: Some(request), run_id: RUN.into(), ..Default::default() };
    let outcome = start_workflow(NS, None, &command, Clock { now: 0, config: &config }).unwrap();
    assert!(matches!(outcome.reply, Reply::Started { .. }), "{:?}", outcome.reply);
}

#[test]
fn activities_the_worker_asks_to_run_itself_start_with_the_completion() {
    let mut h = Harness::start();
    let eager = |id: &str| {
        schedule_activity_with(ScheduleActivityTaskCommandAttributes {
            activity_id: id.into(),
            start_to_close_timeout: Some(duration_from_nanos(10 * S)),
            request_eager_execution: true,
            ..Default::default()
        })
    };
    let dispatched_before = h.dispatched.len();
    let commands = vec![eager("a1"), eager("a2"), eager("a3"), eager("a4"), schedule_activity("a5", 10 * S)];
    let reply = h.complete_workflow_task(commands).unwrap();
    let Reply::WorkflowTaskCompleted { activity_tasks, .. } = reply else { panic!() };
    let ids: Vec<&str> = activity_tasks.iter().map(|task| task.activity_id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"], "at most three per completion");
    assert_eq!(h.dispatched.len() - dispatched_before, 2, "the fourth and the plain one go to matching");
    assert!(h.state.activities.values().filter(|a| a.started_time.is_some()).count() == 3);
}
