//! Runs followed by runs: continue-as-new, workflow retries, cron, and the
//! start delay (the backoff every successor's first workflow task may wait).

use super::*;
use crate::state_machine::derived_ids::successor_run_id;
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;

fn started_attributes(h: &Harness) -> WorkflowExecutionStartedEventAttributes {
    match &h.history[0].attributes {
        Some(EventAttributes::WorkflowExecutionStartedEventAttributes(started)) => started.clone(),
        other => panic!("unexpected {other:?}"),
    }
}

/// The harness of the run that followed `h`'s run, at the same moment.
fn successor_of(h: &mut Harness) -> Harness {
    let successor = h.successor.take().expect("a successor run");
    Harness::with_new_run(h.config.clone(), h.now, successor)
}

fn continue_as_new(attributes: ContinueAsNewWorkflowExecutionCommandAttributes) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::ContinueAsNewWorkflowExecutionCommandAttributes(attributes))
}

fn fail_workflow(message: &str) -> temper_proto::api::command::v1::Command {
    command(CommandAttributes::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
        failure: Some(application_failure(message, false)),
    }))
}

fn closing_new_run_id(h: &Harness) -> String {
    match &h.last_event().attributes {
        Some(EventAttributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => a.new_execution_run_id.clone(),
        Some(EventAttributes::WorkflowExecutionFailedEventAttributes(a)) => a.new_execution_run_id.clone(),
        Some(EventAttributes::WorkflowExecutionCompletedEventAttributes(a)) => a.new_execution_run_id.clone(),
        Some(EventAttributes::WorkflowExecutionTimedOutEventAttributes(a)) => a.new_execution_run_id.clone(),
        other => panic!("not a closing event: {other:?}"),
    }
}

fn retry_state(h: &Harness) -> RetryState {
    match &h.last_event().attributes {
        Some(EventAttributes::WorkflowExecutionFailedEventAttributes(a)) => a.retry_state(),
        Some(EventAttributes::WorkflowExecutionTimedOutEventAttributes(a)) => a.retry_state(),
        other => panic!("no retry state in {other:?}"),
    }
}

fn with_retry_policy(maximum_attempts: i32) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest { retry_policy: Some(retry_policy(2 * S, maximum_attempts)), ..start_request() }
}

mod continue_as_new {
    use super::*;

    #[test]
    fn the_run_closes_as_continued_and_the_next_starts_with_the_new_input() {
        let mut h = Harness::start_with(StartWorkflowExecutionRequest {
            workflow_execution_timeout: Some(duration_from_nanos(3600 * S)),
            ..start_request()
        });
        h.advance(5 * S);
        let value = payloads("v").unwrap().payloads.remove(0);
        let memo = temper_proto::api::common::v1::Memo { fields: [("k".to_string(), value)].into() };
        h.complete_workflow_task(vec![continue_as_new(ContinueAsNewWorkflowExecutionCommandAttributes {
            input: payloads("next"),
            memo: Some(memo.clone()),
            ..Default::default()
        })])
        .unwrap();
        assert_eq!(h.status(), WorkflowExecutionStatus::ContinuedAsNew);
        assert_eq!(h.last_event().event_type(), WorkflowExecutionContinuedAsNew);
        let next_id = successor_run_id(RUN);
        assert_eq!(closing_new_run_id(&h), next_id);
        assert_eq!(h.state.info.as_ref().unwrap().new_execution_run_id, next_id);

        let next = successor_of(&mut h);
        let started = started_attributes(&next);
        assert_eq!(started.input, payloads("next"));
        assert_eq!(started.memo, Some(memo));
        assert_eq!(started.continued_execution_run_id, RUN);
        assert_eq!(started.first_execution_run_id, RUN);
        assert_eq!(started.original_execution_run_id, next_id);
        assert_eq!(started.initiator(), ContinueAsNewInitiator::Workflow);
        assert_eq!(started.workflow_type.as_ref().unwrap().name, "Greet", "the type is inherited");
        assert_eq!(started.task_queue.as_ref().unwrap().name, QUEUE, "the queue is inherited");
        assert_eq!(started.attempt, 1);
        // The chain's expiration carries over unchanged.
        let info = next.state.info.as_ref().unwrap();
        assert_eq!(info.execution_expiration_time, h.state.info.as_ref().unwrap().execution_expiration_time);
        assert_eq!(info.first_run_id, RUN);
        // It lived 5 s, longer than the minimal interval: no backoff.
        assert_eq!(started.first_workflow_task_backoff, None);
        assert_eq!(next.event_types(), [WorkflowExecutionStarted, WorkflowTaskScheduled]);
    }

    #[test]
    fn a_run_continuing_at_once_waits_out_the_minimal_interval() {
        let mut h = Harness::start();
        h.advance(S / 4);
        h.complete_workflow_task(vec![continue_as_new(ContinueAsNewWorkflowExecutionCommandAttributes::default())]).unwrap();
        let mut next = successor_of(&mut h);
        assert_eq!(started_attributes(&next).first_workflow_task_backoff, Some(duration_from_nanos(3 * S / 4)));
        assert_eq!(next.event_types(), [WorkflowExecutionStarted], "the first workflow task waits");
        assert_eq!(next.timer_kinds(), ["start-backoff"]);
        next.advance(3 * S / 4);
        next.fire_due_timers();
        assert_eq!(next.event_types(), [WorkflowExecutionStarted, WorkflowTaskScheduled]);
    }

    #[test]
    fn unseen_signals_keep_the_run_open() {
        let mut h = Harness::start();
        let started = h.start_workflow_task();
        h.signal("late", "s1").unwrap();
        let error = h
            .complete_workflow_task_with(
                &started,
                RespondWorkflowTaskCompletedRequest {
                    commands: vec![continue_as_new(Default::default())],
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(matches!(error, CommandError::InvalidArgument(_)), "{error:?}");
        assert_eq!(h.status(), WorkflowExecutionStatus::Running);
        assert!(h.successor.is_none());
    }

    #[test]
    fn a_bad_retry_policy_or_cron_schedule_fails_the_task() {
        for bad in [
            ContinueAsNewWorkflowExecutionCommandAttributes {
                retry_policy: Some(temper_proto::api::common::v1::RetryPolicy { backoff_coefficient: 0.5, ..Default::default() }),
                ..Default::default()
            },
            ContinueAsNewWorkflowExecutionCommandAttributes { cron_schedule: "61 * * * *".into(), ..Default::default() },
        ] {
            let mut h = Harness::start();
            assert!(h.complete_workflow_task(vec![continue_as_new(bad)]).is_err());
            assert_eq!(h.status(), WorkflowExecutionStatus::Running);
            assert!(h.successor.is_none());
        }
    }
}

mod workflow_retry {
    use super::*;

    #[test]
    fn a_failed_run_is_retried_as_a_new_run_after_the_backoff() {
        let mut h = Harness::start_with(with_retry_policy(3));
        h.complete_workflow_task(vec![fail_workflow("boom")]).unwrap();
        assert_eq!(h.status(), WorkflowExecutionStatus::Failed);
        assert_eq!(retry_state(&h), RetryState::InProgress);
        assert_eq!(closing_new_run_id(&h), successor_run_id(RUN));

        let mut next = successor_of(&mut h);
        let started = started_attributes(&next);
        assert_eq!(started.attempt, 2);
        assert_eq!(started.initiator(), ContinueAsNewInitiator::Retry);
        assert_eq!(started.input, payloads("input"), "a retry starts with the first input");
        assert_eq!(started.continued_failure.as_ref().unwrap().message, "boom");
        assert_eq!(started.first_workflow_task_backoff, Some(duration_from_nanos(2 * S)));
        assert_eq!(next.event_types(), [WorkflowExecutionStarted]);
        next.advance(2 * S);
        next.fire_due_timers();
        assert_eq!(next.event_types(), [WorkflowExecutionStarted, WorkflowTaskScheduled]);

        // The third attempt is the last.
        next.complete_workflow_task(vec![fail_workflow("boom")]).unwrap();
        let mut third = successor_of(&mut next);
        assert_eq!(started_attributes(&third).attempt, 3);
        third.advance(4 * S);
        third.fire_due_timers();
        third.complete_workflow_task(vec![fail_workflow("boom")]).unwrap();
        assert_eq!(retry_state(&third), RetryState::MaximumAttemptsReached);
        assert!(third.successor.is_none());
        assert_eq!(closing_new_run_id(&third), "");
    }

    #[test]
    fn a_non_retryable_failure_ends_the_chain() {
        let mut h = Harness::start_with(with_retry_policy(0));
        h.complete_workflow_task(vec![command(CommandAttributes::FailWorkflowExecutionCommandAttributes(
            FailWorkflowExecutionCommandAttributes { failure: Some(application_failure("fatal", true)) },
        ))])
        .unwrap();
        assert_eq!(retry_state(&h), RetryState::NonRetryableFailure);
        assert!(h.successor.is_none());
    }

    #[test]
    fn without_a_policy_a_failure_is_final() {
        let mut h = Harness::start();
        h.complete_workflow_task(vec![fail_workflow("boom")]).unwrap();
        assert_eq!(retry_state(&h), RetryState::RetryPolicyNotSet);
        assert!(h.successor.is_none());
        assert!(h.state.started_for_successor.is_none(), "only runs that may be followed keep their start");
    }

    #[test]
    fn a_run_timeout_is_retried_until_the_execution_timeout() {
        let mut h = Harness::start_with(StartWorkflowExecutionRequest {
            workflow_run_timeout: Some(duration_from_nanos(10 * S)),
            workflow_execution_timeout: Some(duration_from_nanos(30 * S)),
            ..with_retry_policy(0)
        });
        h.advance(10 * S);
        h.fire_due_timers();
        assert_eq!(h.status(), WorkflowExecutionStatus::TimedOut);
        assert_eq!(retry_state(&h), RetryState::InProgress);
        let mut next = successor_of(&mut h);
        assert_eq!(started_attributes(&next).continued_failure.unwrap().message, "workflow timeout");
        // Starts after 2 s; its 10 s run timeout ends at 22 s, within the 30 s.
        next.advance(12 * S);
        next.fire_due_timers();
        assert_eq!(next.status(), WorkflowExecutionStatus::TimedOut);
        let mut third = successor_of(&mut next);
        // 4 s of backoff, then the execution timeout ends the chain at 30 s, before the run timeout.
        third.advance(8 * S - 1);
        third.fire_due_timers();
        assert_eq!(third.status(), WorkflowExecutionStatus::Running);
        third.advance(1);
        third.fire_due_timers();
        assert_eq!(third.status(), WorkflowExecutionStatus::TimedOut);
        assert_eq!(retry_state(&third), RetryState::Timeout);
        assert!(third.successor.is_none());
    }
}

mod cron {
    use super::*;

    fn every_minute() -> StartWorkflowExecutionRequest {
        StartWorkflowExecutionRequest { cron_schedule: "* * * * *".into(), ..start_request() }
    }

    #[test]
    fn the_first_run_waits_for_the_first_cron_time() {
        // The harness starts at 1000 s: the next whole minute is 1020 s.
        let mut h = Harness::start_with(every_minute());
        let started = started_attributes(&h);
        assert_eq!(started.first_workflow_task_backoff, Some(duration_from_nanos(20 * S)));
        assert_eq!(started.initiator(), ContinueAsNewInitiator::CronSchedule);
        assert_eq!(started.cron_schedule, "* * * * *");
        assert_eq!(h.event_types(), [WorkflowExecutionStarted]);
        h.signal("early", "s1").unwrap();
        assert!(h.state.workflow_task.is_none(), "a signal does not end the cron wait");
        h.advance(20 * S);
        h.fire_due_timers();
        assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowExecutionSignaled, WorkflowTaskScheduled]);
    }

    #[test]
    fn a_completed_run_is_followed_at_the_next_cron_time_with_its_result() {
        let mut h = Harness::start_with(every_minute());
        h.advance(20 * S);
        h.fire_due_timers();
        h.advance(5 * S);
        h.complete_workflow_task(vec![complete_workflow("first")]).unwrap();
        assert_eq!(h.status(), WorkflowExecutionStatus::Completed);
        assert_eq!(closing_new_run_id(&h), successor_run_id(RUN));
        let next = successor_of(&mut h);
        let started = started_attributes(&next);
        assert_eq!(started.last_completion_result, payloads("first"));
        assert_eq!(started.first_workflow_task_backoff, Some(duration_from_nanos(55 * S)));
        assert_eq!(started.input, payloads("input"));
        assert_eq!(started.cron_schedule, "* * * * *");
    }

    #[test]
    fn a_failed_cron_run_without_retries_is_followed_too() {
        let mut h = Harness::start_with(every_minute());
        h.advance(20 * S);
        h.fire_due_timers();
        h.complete_workflow_task(vec![fail_workflow("boom")]).unwrap();
        assert_eq!(retry_state(&h), RetryState::RetryPolicyNotSet);
        let next = successor_of(&mut h);
        assert_eq!(started_attributes(&next).continued_failure.unwrap().message, "boom");
    }

    #[test]
    fn cancellation_and_termination_end_the_chain() {
        let mut h = Harness::start_with(every_minute());
        h.apply(Command::TerminateWorkflow(TerminateWorkflow { request: Some(Default::default()) })).unwrap();
        assert_eq!(h.status(), WorkflowExecutionStatus::Terminated);
        assert!(h.successor.is_none());
        assert!(h.timers.is_empty(), "the cron wait is disarmed");
    }
}

mod start_delay {
    use super::*;

    fn delayed(delay: i64) -> Harness {
        Harness::start_with(StartWorkflowExecutionRequest {
            workflow_start_delay: Some(duration_from_nanos(delay)),
            workflow_run_timeout: Some(duration_from_nanos(60 * S)),
            ..start_request()
        })
    }

    #[test]
    fn the_first_workflow_task_waits_for_the_delay_and_the_run_timeout_counts_after_it() {
        let mut h = delayed(30 * S);
        assert_eq!(started_attributes(&h).first_workflow_task_backoff, Some(duration_from_nanos(30 * S)));
        let info = h.state.info.as_ref().unwrap();
        assert_eq!(timestamp_nanos(info.execution_time.as_ref().unwrap()), h.now + 30 * S);
        h.signal("early", "s1").unwrap();
        assert!(h.state.workflow_task.is_none(), "a plain signal does not end the delay");
        h.advance(30 * S);
        h.fire_due_timers();
        assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowExecutionSignaled, WorkflowTaskScheduled]);
        h.advance(59 * S);
        h.fire_due_timers();
        assert_eq!(h.status(), WorkflowExecutionStatus::Running, "the run timeout counts from the end of the delay");
        h.advance(S);
        h.fire_due_timers();
        assert_eq!(h.status(), WorkflowExecutionStatus::TimedOut);
    }

    #[test]
    fn signal_with_start_ends_the_delay_of_a_waiting_run() {
        let mut h = delayed(30 * S);
        let request = SignalWithStartWorkflowExecutionRequest {
            workflow_id: WF.into(),
            workflow_type: Some(WorkflowType { name: "Greet".into() }),
            task_queue: Some(TaskQueue { name: QUEUE.into(), kind: 1, normal_name: String::new() }),
            signal_name: "go".into(),
            request_id: "sws".into(),
            ..Default::default()
        };
        let config = h.config.clone();
        let command = SignalWithStartWorkflow { request: Some(request), run_id: "other".into(), ..Default::default() };
        let outcome = signal_with_start_workflow(NS, Some(&mut h.state), &command, Clock { now: h.now, config: &config }).unwrap();
        h.absorb(outcome.previous_run.unwrap());
        assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowExecutionSignaled, WorkflowTaskScheduled]);
        assert!(!h.timer_kinds().contains(&"start-backoff".to_string()), "{:?}", h.timer_kinds());
    }
}
