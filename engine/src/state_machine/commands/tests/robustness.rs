//! Regression tests for the state-machine defects of the robustness issue:
//! inputs that used to wedge a shard, overflow time arithmetic, strand a
//! workflow task, or write events after a run's close event.

use super::*;

/// A duration of `n` years, longer than nanoseconds in an i64 can count.
fn years(n: i64) -> prost_types::Duration {
    prost_types::Duration { seconds: n * 365 * 24 * 3600, nanos: 0 }
}

fn failure_cause(h: &Harness) -> WorkflowTaskFailedCause {
    match &h.history.iter().rev().find(|e| e.event_type() == WorkflowTaskFailed).expect("a failed workflow task").attributes {
        Some(EventAttributes::WorkflowTaskFailedEventAttributes(failed)) => failed.cause(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_over_long_timer_id_fails_the_task_with_bad_start_timer_attributes() {
    let mut h = Harness::start();
    let error = h.complete_workflow_task(vec![start_timer(&"t".repeat(70_000), S)]).unwrap_err();
    assert!(error.to_string().contains("TimerId exceeds length limit"), "{error}");
    assert_eq!(failure_cause(&h), WorkflowTaskFailedCause::BadStartTimerAttributes);
    assert!(h.state.timers.is_empty(), "nothing of the refused completion is kept");
    assert_eq!(h.status(), WorkflowExecutionStatus::Running);
}

#[test]
fn over_long_ids_in_other_commands_fail_the_task_with_their_cause() {
    let long = "x".repeat(1001);
    let cases = [
        (schedule_activity(&long, S), WorkflowTaskFailedCause::BadScheduleActivityAttributes),
        (
            command(CommandAttributes::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
                activity_id: "a".into(),
                activity_type: Some(ActivityType { name: long.clone() }),
                start_to_close_timeout: Some(duration_from_nanos(S)),
                ..Default::default()
            })),
            WorkflowTaskFailedCause::BadScheduleActivityAttributes,
        ),
        (
            command(CommandAttributes::RecordMarkerCommandAttributes(RecordMarkerCommandAttributes {
                marker_name: long.clone(),
                ..Default::default()
            })),
            WorkflowTaskFailedCause::BadRecordMarkerAttributes,
        ),
        (
            command(CommandAttributes::CancelTimerCommandAttributes(CancelTimerCommandAttributes { timer_id: long.clone() })),
            WorkflowTaskFailedCause::BadCancelTimerAttributes,
        ),
    ];
    for (bad, cause) in cases {
        let mut h = Harness::start();
        let outcome = h.complete_workflow_task(vec![bad]);
        assert!(outcome.is_err(), "expected {cause:?}, got {outcome:?}");
        assert_eq!(failure_cause(&h), cause);
    }
}

#[test]
fn a_thousand_year_run_timeout_does_not_time_the_run_out_at_once() {
    let mut h = Harness::start_with(StartWorkflowExecutionRequest {
        workflow_run_timeout: Some(years(1000)),
        workflow_execution_timeout: Some(prost_types::Duration { seconds: i64::MAX, nanos: 999_999_999 }),
        ..start_request()
    });
    h.complete_workflow_task(vec![command(CommandAttributes::StartTimerCommandAttributes(StartTimerCommandAttributes {
        timer_id: "t".into(),
        start_to_fire_timeout: Some(years(1000)),
    }))])
    .unwrap();
    h.advance(3600 * S);
    h.fire_due_timers();
    assert_eq!(h.status(), WorkflowExecutionStatus::Running);
    assert!(h.timers.keys().all(|key| key.fire_time_nanos > h.now), "every deadline lies ahead: {:?}", h.timers.keys());
}

#[test]
fn huge_activity_timeouts_and_retry_delays_saturate_instead_of_overflowing() {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![schedule_activity_with(ScheduleActivityTaskCommandAttributes {
        activity_id: "a".into(),
        start_to_close_timeout: Some(prost_types::Duration { seconds: i64::MAX, nanos: 0 }),
        heartbeat_timeout: Some(years(1000)),
        ..Default::default()
    })])
    .unwrap();
    let started = h.start_activity(5);
    let mut failure = application_failure("later", false);
    if let Some(FailureInfo::ApplicationFailureInfo(info)) = failure.failure_info.as_mut() {
        info.next_retry_delay = Some(prost_types::Duration { seconds: i64::MAX, nanos: 0 });
    }
    h.fail_activity(&started, failure).unwrap();
    h.advance(3600 * S);
    h.fire_due_timers();
    let activity = &h.state.activities[&5];
    assert!(activity.backing_off, "the activity waits for its (very late) retry");
    assert_eq!(activity.attempt, 2);
}

#[test]
fn closing_after_cancelling_an_unstarted_activity_drops_its_cancellation_as_temporal_does() {
    let mut h = Harness::start();
    h.complete_workflow_task(vec![schedule_activity("a", 60 * S)]).unwrap();
    h.signal("stop", "s").unwrap();
    h.complete_workflow_task(vec![
        command(CommandAttributes::RequestCancelActivityTaskCommandAttributes(RequestCancelActivityTaskCommandAttributes {
            scheduled_event_id: 5,
        })),
        complete_workflow("done"),
    ])
    .unwrap();
    let types = h.event_types();
    assert_eq!(types[types.len() - 3..], [WorkflowTaskCompleted, ActivityTaskCancelRequested, WorkflowExecutionCompleted]);
    assert!(h.state.activities.is_empty());
    assert_eq!(h.status(), WorkflowExecutionStatus::Completed);
}

#[test]
fn reset_sticky_moves_a_task_waiting_on_the_sticky_queue_to_the_normal_queue() {
    let mut h = Harness::start();
    h.complete_workflow_task_asking_for_sticky("sticky-1", 5 * S);
    h.signal("s", "s").unwrap();
    assert_eq!(h.dispatched.last().unwrap().task_queue, "sticky-1");
    h.apply(Command::ResetStickyTaskQueue(ResetStickyTaskQueue { run_id: RUN.into(), ..Default::default() })).unwrap();
    assert_eq!(h.dispatched.last().unwrap().task_queue, QUEUE, "the waiting task goes to the normal queue at once");
    assert!(h.timer_kinds().iter().all(|kind| !kind.starts_with("workflow-task")), "no sticky timeout is left: {:?}", h.timer_kinds());
    let started = h.start_workflow_task();
    assert!(!started.sticky, "the normal-queue worker gets the full history");
    assert_eq!(started.previous_started_event_id, 3);
}

#[test]
fn timers_of_one_run_due_together_fire_in_one_transition() {
    let mut h = Harness::start();
    let timers: Vec<_> = (0..50).map(|i| start_timer(&format!("t{i}"), 8 * S)).collect();
    h.complete_workflow_task(timers).unwrap();
    h.advance(8 * S);
    let due: Vec<TimerTask> = h.timers.values().cloned().collect();
    assert_eq!(due.len(), 50);
    h.timers.clear();
    let config = h.config.clone();
    let transition = fire_timers(&mut h.state, &due.iter().collect::<Vec<_>>(), Clock { now: h.now, config: &config });
    h.absorb(transition);
    let fired = h.event_types().iter().filter(|t| **t == TimerFired).count();
    assert_eq!(fired, 50);
    assert!(h.state.timers.is_empty());
    assert_eq!(h.event_types().iter().filter(|t| **t == WorkflowTaskScheduled).count(), 2, "one new workflow task for all of them");
}

#[test]
fn a_history_past_the_count_limit_terminates_the_run() {
    let mut h = Harness::start();
    h.config.run_limits.history_count_warn = 6;
    h.config.run_limits.history_count_limit = 12;
    h.complete_workflow_task(vec![]).unwrap();
    for n in 0..3 {
        h.signal("s", &format!("s-{n}")).unwrap();
    }
    let started = h.start_workflow_task();
    let started_event = h.history.iter().find(|e| e.event_id == started.started_event_id).unwrap();
    match &started_event.attributes {
        Some(EventAttributes::WorkflowTaskStartedEventAttributes(a)) => assert!(a.suggest_continue_as_new),
        other => panic!("unexpected {other:?}"),
    }
    for n in 3..10 {
        h.signal("s", &format!("s-{n}")).unwrap();
    }
    assert_eq!(h.status(), WorkflowExecutionStatus::Running, "signals held back during the task are not history yet");
    h.complete_workflow_task_with(&started, RespondWorkflowTaskCompletedRequest::default()).unwrap();
    assert_eq!(h.status(), WorkflowExecutionStatus::Terminated);
    assert_eq!(h.last_event().event_type(), WorkflowExecutionTerminated);
    match &h.last_event().attributes {
        Some(EventAttributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            assert_eq!(a.reason, "Workflow history count exceeds limit.")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(h.timers.is_empty());
}

#[test]
fn a_history_past_the_size_limit_terminates_the_run() {
    let mut h = Harness::start();
    h.config.run_limits.history_size_limit_bytes = 4 * 1024;
    h.complete_workflow_task(vec![]).unwrap();
    h.apply(Command::SignalWorkflow(SignalWorkflow {
        request: Some(SignalWorkflowExecutionRequest {
            signal_name: "big".into(),
            input: payloads(&"x".repeat(8 * 1024)),
            ..Default::default()
        }),
    }))
    .unwrap();
    assert_eq!(h.status(), WorkflowExecutionStatus::Terminated);
}

#[test]
fn scheduling_past_the_pending_activity_limit_fails_the_task() {
    let mut h = Harness::start();
    h.config.run_limits.max_pending_activities = 3;
    let four: Vec<_> = (0..4).map(|i| schedule_activity(&format!("a{i}"), S)).collect();
    h.complete_workflow_task(four).unwrap_err();
    assert_eq!(failure_cause(&h), WorkflowTaskFailedCause::PendingActivitiesLimitExceeded);
    assert!(h.state.activities.is_empty());
}


#[test]
fn a_failure_nested_past_the_limit_fails_the_task_instead_of_closing_the_run() {
    let mut h = Harness::start();
    let mut failure = application_failure("root", false);
    for depth in 0..70 {
        failure = Failure { message: format!("level {depth}"), cause: Some(Box::new(failure)), ..Default::default() };
    }
    let fail = command(CommandAttributes::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
        failure: Some(failure),
    }));
    let error = h.complete_workflow_task(vec![fail]).unwrap_err();
    assert!(error.to_string().contains("nested 71 causes deep"), "{error}");
    assert_eq!(failure_cause(&h), WorkflowTaskFailedCause::BadFailWorkflowExecutionAttributes);
    assert_eq!(h.status(), WorkflowExecutionStatus::Running, "a fixed workflow can still fail itself properly");
}
