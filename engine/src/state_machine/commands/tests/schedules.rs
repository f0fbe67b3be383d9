//! Schedules: the run that keeps a schedule wakes at the spec's times,
//! starts the action's workflow as the overlap policy allows, and hears back
//! when the workflows it started start and end.

use temper_proto::api::common::v1::Payload;
use temper_proto::api::schedule::v1::{
    BackfillRequest, IntervalSpec, Schedule, ScheduleAction, SchedulePatch, SchedulePolicies, ScheduleSpec, ScheduleState,
    TriggerImmediatelyRequest, schedule_action,
};
use temper_proto::api::workflow::v1::NewWorkflowExecutionInfo;
use temper_proto::records::ScheduleState as ScheduleStateRecord;

use super::*;
use crate::state_machine::scheduler::WORKFLOW_ID_PREFIX;
use crate::time::{timestamp_from_nanos, timestamp_nanos};

const MINUTE: i64 = 60 * S;
const CREATED_AT: i64 = 1_000 * S;

fn every(seconds: i64) -> ScheduleSpec {
    ScheduleSpec {
        interval: vec![IntervalSpec { interval: Some(duration_from_nanos(seconds * S)), phase: None }],
        ..Default::default()
    }
}

fn schedule(spec: ScheduleSpec, policies: SchedulePolicies) -> Schedule {
    Schedule {
        spec: Some(spec),
        action: Some(ScheduleAction {
            action: Some(schedule_action::Action::StartWorkflow(NewWorkflowExecutionInfo {
                workflow_id: "report".into(),
                workflow_type: Some(WorkflowType { name: "Report".into() }),
                task_queue: Some(TaskQueue { name: QUEUE.into(), ..Default::default() }),
                input: payloads("input"),
                ..Default::default()
            })),
        }),
        policies: Some(policies),
        state: None,
    }
}

fn create(schedule: Schedule) -> Harness {
    create_with_patch(schedule, None)
}

fn create_with_patch(schedule: Schedule, initial_patch: Option<SchedulePatch>) -> Harness {
    let config = Config::default();
    let request = CreateScheduleRequest {
        namespace: "default".into(),
        schedule_id: "nightly".into(),
        schedule: Some(schedule),
        initial_patch,
        identity: "client".into(),
        request_id: "create-1".into(),
        ..Default::default()
    };
    let command = CreateSchedule { request: Some(request), run_id: RUN.into(), namespace_retention: None };
    let workflow_id = format!("{WORKFLOW_ID_PREFIX}nightly");
    let outcome = create_schedule(NS, &workflow_id, None, &command, Clock { now: CREATED_AT, config: &config }).unwrap();
    Harness::with_new_run(config, CREATED_AT, outcome.new_run.unwrap())
}

fn policies(overlap: ScheduleOverlapPolicy) -> SchedulePolicies {
    SchedulePolicies { overlap_policy: overlap as i32, ..Default::default() }
}

impl Harness {
    fn schedule_state(&self) -> &ScheduleStateRecord {
        self.state.schedule.as_ref().unwrap()
    }

    fn info(&self) -> temper_proto::api::schedule::v1::ScheduleInfo {
        self.schedule_state().info.clone().unwrap_or_default()
    }

    /// The starts sent so far: workflow id and request.
    fn starts(&self) -> Vec<(String, StartWorkflowExecutionRequest, i64)> {
        self.sent
            .iter()
            .filter_map(|record| match &record.command {
                Some(Command::StartWorkflow(start)) => Some((
                    record.workflow_id.clone(),
                    start.request.clone().unwrap(),
                    record.origin.as_ref().unwrap().initiated_event_id,
                )),
                _ => None,
            })
            .collect()
    }

    fn wake_at(&mut self, time: i64) {
        self.now = time;
        self.fire_due_timers();
    }

    fn answer_start(&mut self, start_id: i64, run_id: &str) {
        self.apply(Command::RecordScheduledWorkflowStarted(RecordScheduledWorkflowStarted {
            run_id: RUN.into(),
            start_id,
            started_run_id: run_id.into(),
            failure: String::new(),
        }))
        .unwrap();
    }

    fn close_started(&mut self, workflow_id: &str, run_id: &str, status: WorkflowExecutionStatus) {
        self.apply(Command::RecordScheduledWorkflowClosed(RecordScheduledWorkflowClosed {
            execution: Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: run_id.into() }),
            status: status as i32,
            result: payloads("done"),
            failure: None,
            close_time: Some(timestamp_from_nanos(self.now)),
        }))
        .unwrap();
    }

    fn patch(&mut self, patch: SchedulePatch) -> Result<Reply, CommandError> {
        let request = PatchScheduleRequest { namespace: "default".into(), schedule_id: "nightly".into(), patch: Some(patch), ..Default::default() };
        self.apply(Command::PatchSchedule(PatchSchedule { request: Some(request) }))
    }

    fn wakeup(&self) -> Option<i64> {
        self.schedule_state().wakeup_time.as_ref().map(timestamp_nanos)
    }
}

fn keyword(payload: &Payload) -> String {
    String::from_utf8(payload.data.clone()).unwrap()
}

#[test]
fn a_new_schedule_waits_for_its_first_time_and_starts_nothing() {
    let h = create(schedule(every(60), SchedulePolicies::default()));
    assert_eq!(h.event_types(), [WorkflowExecutionStarted]);
    assert!(h.starts().is_empty());
    assert_eq!(h.wakeup(), Some(1_020 * S), "the next whole minute");
    assert_eq!(h.timers.len(), 1, "only the wakeup is armed");
    assert!(h.dispatched.is_empty(), "a schedule's run has no workflow tasks");
    let attributes = &h.state.info.as_ref().unwrap().search_attributes.as_ref().unwrap().indexed_fields;
    assert_eq!(keyword(&attributes["TemporalNamespaceDivision"]), "\"TemporalScheduler\"");
    assert_eq!(keyword(&attributes["TemporalSchedulePaused"]), "false");
}

#[test]
fn a_due_time_starts_the_action_under_an_id_with_its_nominal_time() {
    let mut h = create(schedule(every(60), SchedulePolicies::default()));
    h.wake_at(1_020 * S);
    let starts = h.starts();
    assert_eq!(starts.len(), 1);
    let (workflow_id, request, start_id) = &starts[0];
    assert_eq!(workflow_id, "report-1970-01-01T00:17:00Z");
    assert_eq!(request.workflow_id, *workflow_id);
    assert_eq!(request.workflow_id_reuse_policy(), WorkflowIdReusePolicy::RejectDuplicate);
    assert_eq!(request.identity, "temporal-scheduler-default-nightly");
    let attributes = &request.search_attributes.as_ref().unwrap().indexed_fields;
    assert_eq!(keyword(&attributes["TemporalScheduledById"]), "\"nightly\"");
    assert_eq!(keyword(&attributes["TemporalScheduledStartTime"]), "\"1970-01-01T00:17:00Z\"");
    assert_eq!(h.wakeup(), Some(1_080 * S));

    h.answer_start(*start_id, "started-run");
    let info = h.info();
    assert_eq!(info.action_count, 1);
    assert_eq!(info.running_workflows, [WorkflowExecution { workflow_id: workflow_id.clone(), run_id: "started-run".into() }]);
    assert_eq!(info.recent_actions.len(), 1);
    assert_eq!(info.recent_actions[0].schedule_time, Some(timestamp_from_nanos(1_020 * S)));
}

#[test]
fn skip_passes_over_times_while_a_started_workflow_runs() {
    let mut h = create(schedule(every(60), policies(ScheduleOverlapPolicy::Skip)));
    h.wake_at(1_020 * S);
    h.answer_start(0, "first");
    h.wake_at(1_080 * S);
    h.wake_at(1_140 * S);
    assert_eq!(h.starts().len(), 1);
    assert_eq!(h.info().overlap_skipped, 2);
    h.close_started("report-1970-01-01T00:17:00Z", "first", WorkflowExecutionStatus::Completed);
    assert!(h.info().running_workflows.is_empty());
    h.wake_at(1_200 * S);
    assert_eq!(h.starts().len(), 2, "the next time after the close starts");
    let (_, request, _) = &h.starts()[1];
    assert_eq!(request.last_completion_result, payloads("done"), "the last result is handed on");
}

#[test]
fn buffer_one_starts_the_buffered_time_once_the_running_workflow_ends() {
    let mut h = create(schedule(every(60), policies(ScheduleOverlapPolicy::BufferOne)));
    h.wake_at(1_020 * S);
    h.answer_start(0, "first");
    h.wake_at(1_080 * S);
    h.wake_at(1_140 * S);
    assert_eq!(h.starts().len(), 1);
    assert_eq!(h.schedule_state().buffered_starts.len(), 1);
    assert_eq!(h.info().overlap_skipped, 1, "a second waiting time is dropped");
    h.close_started("report-1970-01-01T00:17:00Z", "first", WorkflowExecutionStatus::Completed);
    let starts = h.starts();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].0, "report-1970-01-01T00:18:00Z", "the buffered time, not the newest");
}

#[test]
fn terminate_other_stops_the_running_workflow_and_then_starts() {
    let mut h = create(schedule(every(60), policies(ScheduleOverlapPolicy::TerminateOther)));
    h.wake_at(1_020 * S);
    h.answer_start(0, "first");
    h.wake_at(1_080 * S);
    let terminations: Vec<&TerminateWorkflowExecutionRequest> = h
        .sent
        .iter()
        .filter_map(|record| match &record.command {
            Some(Command::TerminateWorkflow(t)) => t.request.as_ref(),
            _ => None,
        })
        .collect();
    assert_eq!(terminations.len(), 1);
    assert_eq!(terminations[0].first_execution_run_id, "first", "only the chain the schedule started");
    h.wake_at(1_081 * S);
    assert_eq!(h.sent.iter().filter(|r| matches!(r.command, Some(Command::TerminateWorkflow(_)))).count(), 1, "asked once");
    h.close_started("report-1970-01-01T00:17:00Z", "first", WorkflowExecutionStatus::Terminated);
    assert_eq!(h.starts().len(), 2);
}

/// A schedule every minute, with a ten-minute catchup window, woken an hour
/// late (down for an hour: the wakeup fires late, once).
fn woken_after_an_hour_down() -> Harness {
    let catchup = SchedulePolicies {
        overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
        catchup_window: Some(duration_from_nanos(10 * MINUTE)),
        ..Default::default()
    };
    let mut h = create(schedule(every(60), catchup));
    h.wake_at(CREATED_AT + 60 * MINUTE);
    h
}

#[test]
fn after_downtime_the_catchup_window_decides_which_missed_times_run() {
    let h = woken_after_an_hour_down();
    let starts = h.starts();
    assert_eq!(h.info().missed_catchup_window, 50, "times more than ten minutes old are missed");
    assert_eq!(starts.len(), 10, "the last ten minutes' times run");
    assert_eq!(starts[0].0, "report-1970-01-01T01:07:00Z");
    assert_eq!(starts[9].0, "report-1970-01-01T01:16:00Z");
    assert_eq!(h.wakeup(), Some(4_620 * S));
}

#[test]
fn metrics_count_missed_times_and_each_start_with_its_delay() {
    use crate::state_machine::{Measurement, ScheduleEvent};
    let mut h = woken_after_an_hour_down();
    let namespace_id = h.schedule_state().namespace_id.clone();
    let measured = |event| Measurement::Schedule { namespace_id: namespace_id.clone(), event };
    assert_eq!(h.measured, vec![measured(ScheduleEvent::MissedCatchupWindow); 50], "one per missed time, nothing started yet");

    let (workflow_id, _, start_id) = h.starts()[0].clone();
    assert_eq!(workflow_id, "report-1970-01-01T01:07:00Z");
    h.now += 2 * S;
    h.answer_start(start_id, "started-run");
    let due = (60 + 7) * MINUTE;
    assert_eq!(h.measured.last(), Some(&measured(ScheduleEvent::ActionSucceeded { delay_nanos: h.now - due })));
    assert_eq!(h.measured.len(), 51);
}

#[test]
fn years_of_downtime_cost_a_bounded_wake() {
    let catchup = SchedulePolicies {
        overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
        catchup_window: Some(duration_from_nanos(MINUTE)),
        ..Default::default()
    };
    let mut h = create(schedule(every(1), catchup));
    h.wake_at(CREATED_AT + 2 * 365 * 24 * 60 * MINUTE);
    assert_eq!(h.starts().len(), 61, "the times of the last minute, both ends included, run");
    assert_eq!(h.info().missed_catchup_window, 10_000, "the count stops where the older times were passed over");
    assert_eq!(h.wakeup(), Some(h.now + S));
}

#[test]
fn a_paused_schedule_passes_over_its_times_and_resumes_without_them() {
    let mut h = create(schedule(every(60), SchedulePolicies::default()));
    h.patch(SchedulePatch { pause: "maintenance".into(), ..Default::default() }).unwrap();
    let state = h.schedule_state().schedule.as_ref().unwrap().state.clone().unwrap();
    assert!(state.paused);
    assert_eq!(state.notes, "maintenance");
    assert_eq!(h.schedule_state().conflict_token, 2);
    h.wake_at(1_020 * S);
    h.wake_at(1_080 * S);
    assert!(h.starts().is_empty());
    h.patch(SchedulePatch { unpause: "back".into(), ..Default::default() }).unwrap();
    h.wake_at(1_140 * S);
    let starts = h.starts();
    assert_eq!(starts.len(), 1, "the paused times are not made up");
    assert_eq!(starts[0].0, "report-1970-01-01T00:19:00Z");
}

#[test]
fn trigger_and_backfill_start_workflows_whatever_the_spec() {
    let mut h = create(schedule(every(3600), policies(ScheduleOverlapPolicy::AllowAll)));
    h.now = 1_010 * S;
    h.patch(SchedulePatch { trigger_immediately: Some(TriggerImmediatelyRequest::default()), ..Default::default() }).unwrap();
    let starts = h.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].0, "report-1970-01-01T00:16:50Z");
    assert_eq!(starts[0].1.workflow_id_reuse_policy(), WorkflowIdReusePolicy::AllowDuplicate, "manual starts may reuse ids");
    let backfill = BackfillRequest {
        start_time: Some(timestamp_from_nanos(7_200 * S)),
        end_time: Some(timestamp_from_nanos(18_000 * S)),
        overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
    };
    h.patch(SchedulePatch { backfill_request: vec![backfill], ..Default::default() }).unwrap();
    let ids: Vec<String> = h.starts().into_iter().skip(1).map(|(id, _, _)| id).collect();
    assert_eq!(
        ids,
        ["report-1970-01-01T02:00:00Z", "report-1970-01-01T03:00:00Z", "report-1970-01-01T04:00:00Z", "report-1970-01-01T05:00:00Z"],
        "the start of the range is included, as is its end"
    );
}

#[test]
fn a_large_backfill_goes_in_slices() {
    let mut h = create(schedule(every(60), policies(ScheduleOverlapPolicy::AllowAll)));
    let backfill = BackfillRequest {
        start_time: Some(timestamp_from_nanos(10 * MINUTE)),
        end_time: Some(timestamp_from_nanos(35 * MINUTE - S)),
        overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
    };
    h.patch(SchedulePatch { backfill_request: vec![backfill], ..Default::default() }).unwrap();
    assert_eq!(h.starts().len(), 10, "ten at a time");
    assert_eq!(h.wakeup(), Some(h.now + 1), "the rest follows at once");
    h.wake_at(h.now + 1);
    assert_eq!(h.starts().len(), 20);
    h.wake_at(h.now + 1);
    assert_eq!(h.starts().len(), 25);
    assert!(h.schedule_state().ongoing_backfills.is_empty());
}

#[test]
fn an_update_with_a_stale_conflict_token_is_refused() {
    let mut h = create(schedule(every(60), SchedulePolicies::default()));
    let update = |token: i64, spec: ScheduleSpec| {
        Command::UpdateSchedule(UpdateSchedule {
            request: Some(UpdateScheduleRequest {
                schedule_id: "nightly".into(),
                schedule: Some(schedule(spec, SchedulePolicies::default())),
                conflict_token: token.to_be_bytes().to_vec(),
                ..Default::default()
            }),
            namespace_retention: None,
        })
    };
    h.patch(SchedulePatch { pause: "p".into(), ..Default::default() }).unwrap();
    let error = h.apply(update(1, every(120))).unwrap_err();
    assert_eq!(error, CommandError::FailedPrecondition("mismatched conflict token".into()));
    h.now = 1_030 * S;
    h.apply(update(2, every(120))).unwrap();
    assert_eq!(h.schedule_state().conflict_token, 3);
    assert_eq!(h.wakeup(), Some(1_080 * S), "the new spec's next time");
    assert_eq!(h.info().update_time, Some(timestamp_from_nanos(1_030 * S)));
    let state = h.schedule_state().schedule.as_ref().unwrap().state.clone().unwrap();
    assert!(!state.paused, "the update's state replaces the old");
}

#[test]
fn limited_actions_run_out() {
    let mut spec_schedule = schedule(every(60), policies(ScheduleOverlapPolicy::AllowAll));
    spec_schedule.state = Some(ScheduleState { limited_actions: true, remaining_actions: 2, ..Default::default() });
    let mut h = create(spec_schedule);
    for minute in 17..=20 {
        h.wake_at(minute * MINUTE);
    }
    assert_eq!(h.starts().len(), 2);
    assert_eq!(h.schedule_state().schedule.as_ref().unwrap().state.as_ref().unwrap().remaining_actions, 0);
}

#[test]
fn a_failure_pauses_a_schedule_that_asks_for_it() {
    let pause = SchedulePolicies { pause_on_failure: true, ..Default::default() };
    let mut h = create(schedule(every(60), pause));
    h.wake_at(1_020 * S);
    h.answer_start(0, "first");
    h.apply(Command::RecordScheduledWorkflowClosed(RecordScheduledWorkflowClosed {
        execution: Some(WorkflowExecution { workflow_id: "report-1970-01-01T00:17:00Z".into(), run_id: "first".into() }),
        status: WorkflowExecutionStatus::Failed as i32,
        result: None,
        failure: Some(Failure { message: "boom".into(), ..Default::default() }),
        close_time: None,
    }))
    .unwrap();
    let state = h.schedule_state().schedule.as_ref().unwrap().state.clone().unwrap();
    assert!(state.paused);
    assert_eq!(state.notes, "paused due to workflow failure: report-1970-01-01T00:17:00Z: boom");
    assert_eq!(h.info().recent_actions[0].start_workflow_status(), WorkflowExecutionStatus::Failed);
}

#[test]
fn deleting_a_schedule_ends_its_run_and_its_wakeups() {
    let mut h = create(schedule(every(60), SchedulePolicies::default()));
    let request = DeleteScheduleRequest { schedule_id: "nightly".into(), identity: "me".into(), ..Default::default() };
    h.apply(Command::DeleteSchedule(DeleteSchedule { request: Some(request) })).unwrap();
    assert_eq!(h.event_types(), [WorkflowExecutionStarted, WorkflowExecutionTerminated]);
    assert!(h.timers.is_empty());
    let error = h.patch(SchedulePatch { pause: "p".into(), ..Default::default() }).unwrap_err();
    assert_eq!(error, CommandError::NotFound("schedule not found".into()));
}

#[test]
fn a_schedule_run_refuses_workflow_commands_and_a_workflow_refuses_schedule_commands() {
    let mut h = create(schedule(every(60), SchedulePolicies::default()));
    let signal = SignalWorkflowExecutionRequest { signal_name: "s".into(), ..Default::default() };
    let error = h.apply(Command::SignalWorkflow(SignalWorkflow { request: Some(signal) })).unwrap_err();
    assert!(matches!(error, CommandError::InvalidArgument(ref m) if m.contains("use the schedule API")), "{error:?}");

    let signal_with_start = SignalWithStartWorkflow {
        request: Some(SignalWithStartWorkflowExecutionRequest { signal_name: "s".into(), ..Default::default() }),
        ..Default::default()
    };
    let config = Config::default();
    let error = signal_with_start_workflow(NS, Some(&mut h.state), &signal_with_start, Clock { now: h.now, config: &config })
        .unwrap_err();
    assert!(matches!(error, CommandError::InvalidArgument(ref m) if m.contains("use the schedule API")), "{error:?}");

    let mut workflow = Harness::start();
    let error = workflow.patch(SchedulePatch::default()).unwrap_err();
    assert_eq!(error, CommandError::NotFound("schedule not found".into()));
}

#[test]
fn creating_a_schedule_whose_id_is_taken_is_refused_unless_it_is_the_same_request() {
    let h = create(schedule(every(60), SchedulePolicies::default()));
    let config = Config::default();
    let mut state = h.state.clone();
    let request = |request_id: &str| CreateSchedule {
        request: Some(CreateScheduleRequest {
            schedule_id: "nightly".into(),
            schedule: Some(schedule(every(60), SchedulePolicies::default())),
            request_id: request_id.into(),
            ..Default::default()
        }),
        run_id: "run-2".into(),
        namespace_retention: None,
    };
    let clock = Clock { now: CREATED_AT, config: &config };
    let again = create_schedule(NS, "temporal-sys-scheduler:nightly", Some(&mut state), &request("create-1"), clock).unwrap();
    assert!(again.new_run.is_none());
    let error = create_schedule(NS, "temporal-sys-scheduler:nightly", Some(&mut state), &request("other"), clock).unwrap_err();
    assert!(matches!(error, CommandError::WorkflowAlreadyStarted { ref message, .. } if message == "schedule \"nightly\" is already registered"));
}
