//! ResetWorkflowExecution: a new run from a prefix of a run's history.

use super::*;

const NEW_RUN: &str = "new-run";

fn reset_command(finish_event_id: i64) -> ResetWorkflow {
    ResetWorkflow {
        request: Some(ResetWorkflowExecutionRequest {
            reason: "again".into(),
            workflow_task_finish_event_id: finish_event_id,
            request_id: "reset-1".into(),
            ..Default::default()
        }),
        base_run_id: RUN.into(),
        new_run_id: NEW_RUN.into(),
    }
}

fn reset(h: &mut Harness, finish_event_id: i64) -> Result<StartOutcome, CommandError> {
    let base = h.state.info.clone().unwrap();
    let events = h.history.clone();
    let config = h.config.clone();
    let mut current = h.state.clone();
    let outcome = reset_workflow(&base, &events, Some(&mut current), &reset_command(finish_event_id), Clock { now: h.now, config: &config });
    if outcome.is_ok() {
        h.state = current;
    }
    outcome
}

#[test]
fn the_new_run_keeps_the_prefix_fails_its_task_and_gets_later_signals_again() {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![schedule_activity("a1", 10 * S), start_timer("t1", 60 * S)]).unwrap();
    let first_completed = 4;
    h.signal("late", "s1").unwrap();
    let outcome = reset(&mut h, first_completed).unwrap();
    assert_eq!(outcome.reply, Reply::Started { run_id: NEW_RUN.into(), started: true });
    let previous = outcome.previous_run.expect("the running base run is terminated");
    assert_eq!(previous.events.last().unwrap().event_type(), WorkflowExecutionTerminated);
    let new_run = outcome.new_run.unwrap();
    let types = event_types(&new_run.transition.events);
    assert_eq!(
        types,
        [WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskFailed, WorkflowExecutionSignaled, WorkflowTaskScheduled]
    );
    let Some(EventAttributes::WorkflowTaskFailedEventAttributes(failed)) = &new_run.transition.events[3].attributes else { panic!() };
    assert_eq!(failed.cause(), WorkflowTaskFailedCause::ResetWorkflow);
    assert_eq!((failed.base_run_id.as_str(), failed.new_run_id.as_str()), (RUN, NEW_RUN));
    // The activity and timer came after the reset point: the new run has neither.
    assert!(new_run.state.activities.is_empty() && new_run.state.timers.is_empty());
    assert_eq!(new_run.state.info.as_ref().unwrap().run_id, NEW_RUN);
}

#[test]
fn pending_activities_and_timers_before_the_point_are_dispatched_and_armed_again() {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![schedule_activity("a1", 10 * S), start_timer("t1", 60 * S)]).unwrap();
    h.signal("wake", "s1").unwrap();
    h.complete_workflow_task(vec![]).unwrap();
    let second_completed = h.last_event().event_id;
    let outcome = reset(&mut h, second_completed).unwrap();
    let new_run = outcome.new_run.unwrap();
    assert_eq!(new_run.state.activities.len(), 1);
    assert!(new_run.state.timers.contains_key("t1"));
    let dispatched = new_run.transition.effects.iter().filter(|e| matches!(e, Effect::DispatchTask(t) if t.kind == TaskKind::Activity as i32)).count();
    assert_eq!(dispatched, 1, "the pending activity goes to a worker again");
    assert!(new_run.transition.effects.iter().any(|e| matches!(e, Effect::AddTimer(_, t) if matches!(t.kind, Some(timer_task::Kind::UserTimer(_))))));
}

#[test]
fn a_reset_point_that_is_not_a_workflow_task_event_is_refused() {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![]).unwrap();
    for point in [1, 2, 99, 0, -5] {
        assert!(matches!(reset(&mut h, point), Err(CommandError::InvalidArgument(_))), "point {point}");
    }
}

#[test]
fn a_point_with_a_pending_child_is_refused_and_one_after_it_closed_is_not() {
    let mut h = Harness::start();
    let child = command(CommandAttributes::StartChildWorkflowExecutionCommandAttributes(StartChildWorkflowExecutionCommandAttributes {
        workflow_id: "child".into(),
        workflow_type: Some(WorkflowType { name: "Child".into() }),
        ..Default::default()
    }));
    h.complete_workflow_task(vec![child]).unwrap();
    h.signal("wake", "s1").unwrap();
    h.complete_workflow_task(vec![]).unwrap();
    let child_pending = h.last_event().event_id;
    assert!(matches!(reset(&mut h, child_pending), Err(CommandError::InvalidArgument(m)) if m.contains("pending child")));
    let initiated_event_id = *h.state.children.keys().next().unwrap();
    h.apply(Command::RecordChildWorkflowStarted(RecordChildWorkflowStarted {
        run_id: RUN.into(),
        initiated_event_id,
        child_run_id: "child-run".into(),
        ..Default::default()
    }))
    .unwrap();
    let closing = HistoryEvent {
        event_type: WorkflowExecutionCompleted as i32,
        attributes: Some(EventAttributes::WorkflowExecutionCompletedEventAttributes(Default::default())),
        ..Default::default()
    };
    h.apply(Command::RecordChildWorkflowClosed(RecordChildWorkflowClosed {
        run_id: RUN.into(),
        initiated_event_id,
        child: Some(WorkflowExecution { workflow_id: "child".into(), run_id: "child-run".into() }),
        child_first_run_id: "child-run".into(),
        closing_event: Some(closing),
    }))
    .unwrap();
    h.complete_workflow_task(vec![]).unwrap();
    let child_closed = h.last_event().event_id;
    assert!(reset(&mut h, child_closed).is_ok());
}
