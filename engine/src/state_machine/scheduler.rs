//! Schedules. A schedule lives in a run of its own, under the workflow id
//! `temporal-sys-scheduler:<schedule id>` (where Temporal keeps it too), so
//! it is stored, fenced, cached and timed like any run of its shard. That
//! run never has workflow tasks: its state machine is here. It wakes by a
//! durable timer at the next time its spec names, hands due times to its
//! buffer (or counts them missed when older than the catchup window), and
//! starts workflows from the buffer as the overlap policy allows, by
//! sending start commands to the workflows' shards. Those answer with the
//! run they started, and a started workflow's last run tells the schedule
//! how it ended, which may start the next buffered one.
//!
//! The rules are Temporal's (its scheduler workflow and `ProcessBuffer`):
//! a paused schedule passes over its times; an update discards times before
//! it; each start's workflow id is the action's plus the nominal time.

use temper_proto::api::common::v1::{Payload, SearchAttributes, WorkflowExecution};
use temper_proto::api::enums::v1::{ScheduleOverlapPolicy, WorkflowExecutionStatus, WorkflowIdReusePolicy};
use temper_proto::api::schedule::v1::{Schedule, ScheduleActionResult, ScheduleInfo, ScheduleListInfo};
use temper_proto::api::workflowservice::v1::{
    RequestCancelWorkflowExecutionRequest, StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{
    BufferedStart, CommandRecord, Origin, RequestCancelWorkflow, ScheduleState, ScheduledBy, StartInFlight,
    StartWorkflow, TerminateWorkflow,
};

use super::derived_ids::{request_id, scheduled_request_id, scheduled_run_id};
use super::history::RunMutation;
use super::{Effect, Measurement, Nanos, ScheduleEvent};
use crate::schedules::spec::CompiledSpec;
use crate::time::{duration_from_nanos, duration_nanos, timestamp_from_nanos, timestamp_nanos};

pub const WORKFLOW_ID_PREFIX: &str = "temporal-sys-scheduler:";
pub const WORKFLOW_TYPE: &str = "temporal-sys-scheduler-workflow";
pub const NAMESPACE_DIVISION: &str = "TemporalScheduler";

const SECOND: Nanos = 1_000_000_000;
const DEFAULT_CATCHUP_WINDOW: Nanos = 365 * 24 * 3600 * SECOND;
const MIN_CATCHUP_WINDOW: Nanos = 10 * SECOND;
const RECENT_ACTIONS: usize = 10;
const FUTURE_ACTIONS: usize = 10;
const RECENT_ACTIONS_FOR_LIST: usize = 5;
const FUTURE_ACTIONS_FOR_LIST: usize = 5;
const MAX_BUFFER: usize = 1000;
const BACKFILL_STARTS_PER_WAKE: usize = 10;
/// Times a single wake may hand on or pass over: a schedule back from a
/// long downtime with a one-second interval must not stall its shard. The
/// rest is handled at the next wake, which is then immediate.
const TIMES_PER_WAKE: usize = 10_000;

/// The schedule's id, from its run's workflow id.
pub fn schedule_id_of(workflow_id: &str) -> Option<&str> {
    workflow_id.strip_prefix(WORKFLOW_ID_PREFIX)
}

/// The seed of a schedule's jitter, as Temporal forms it.
pub fn jitter_seed(namespace_id: &str, schedule_id: &str) -> String {
    format!("{namespace_id}-{schedule_id}")
}

/// The schedule's spec compiled, or `None` for a spec that no longer
/// compiles (it compiled when accepted; a time zone may leave the database).
pub fn compiled_spec(schedule: &ScheduleState) -> Option<CompiledSpec> {
    let spec = schedule.schedule.as_ref()?.spec.clone().unwrap_or_default();
    CompiledSpec::compile(&spec).ok()
}

fn time_of(timestamp: Option<&prost_types::Timestamp>) -> Nanos {
    timestamp.map(timestamp_nanos).unwrap_or_default()
}

/// The next `count` times the schedule will act, as DescribeSchedule shows
/// them: from where it has got to, skipping times before its last update,
/// no more than its remaining actions.
pub fn future_action_times(schedule: &ScheduleState, count: usize) -> Vec<prost_types::Timestamp> {
    let Some(spec) = compiled_spec(schedule) else { return Vec::new() };
    let state = schedule.schedule.as_ref().and_then(|s| s.state.clone()).unwrap_or_default();
    let count = if state.limited_actions { count.min(state.remaining_actions.max(0) as usize) } else { count };
    let info = schedule.info.clone().unwrap_or_default();
    let update_time = time_of(info.update_time.as_ref());
    let seed = jitter_seed(&namespace_id_of(schedule), &schedule.schedule_id);
    let mut times = Vec::with_capacity(count);
    let mut after = time_of(schedule.last_processed_time.as_ref());
    // Bounded: times before the update are skipped, and they are finitely many.
    for _ in 0..count + TIMES_PER_WAKE {
        if times.len() >= count {
            break;
        }
        let Some(next) = spec.next_time(&seed, after) else { break };
        after = next.next;
        if update_time > next.next {
            continue;
        }
        times.push(timestamp_from_nanos(next.next));
    }
    times
}

fn namespace_id_of(schedule: &ScheduleState) -> String {
    schedule.namespace_id.clone()
}

/// The schedule as DescribeSchedule shows it: with the overlap policy and
/// the catchup window in effect filled in, as Temporal shows them.
pub fn described_schedule(schedule: &ScheduleState) -> Option<Schedule> {
    let mut described = schedule.schedule.clone()?;
    let policies = described.policies.get_or_insert_with(Default::default);
    policies.overlap_policy = resolve_policy(policies.overlap_policy(), ScheduleOverlapPolicy::Unspecified) as i32;
    policies.catchup_window = Some(duration_from_nanos(catchup_window(schedule)));
    Some(described)
}

/// What DescribeSchedule shows of the schedule's progress.
pub fn describe_info(schedule: &ScheduleState) -> ScheduleInfo {
    let mut info = schedule.info.clone().unwrap_or_default();
    info.future_action_times = future_action_times(schedule, FUTURE_ACTIONS);
    info.buffer_size = schedule.buffered_starts.len() as i64;
    info
}

/// What ListSchedules shows of the schedule.
pub fn list_info(schedule: &ScheduleState) -> ScheduleListInfo {
    let definition = schedule.schedule.clone().unwrap_or_default();
    let mut spec = definition.spec.unwrap_or_default();
    spec.timezone_data = Vec::new();
    let state = definition.state.unwrap_or_default();
    let recent = schedule.info.as_ref().map(|info| info.recent_actions.clone()).unwrap_or_default();
    let skip = recent.len().saturating_sub(RECENT_ACTIONS_FOR_LIST);
    ScheduleListInfo {
        spec: Some(spec),
        workflow_type: definition.action.and_then(|action| match action.action {
            Some(temper_proto::api::schedule::v1::schedule_action::Action::StartWorkflow(start)) => start.workflow_type,
            None => None,
        }),
        notes: state.notes,
        paused: state.paused,
        recent_actions: recent.into_iter().skip(skip).collect(),
        future_action_times: future_action_times(schedule, FUTURE_ACTIONS_FOR_LIST),
        ..Default::default()
    }
}

/// A search attribute payload, typed as Temporal's server writes them.
pub fn search_attribute_payload(json: String, value_type: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), value_type.as_bytes().to_vec())]
            .into_iter()
            .collect(),
        data: json.into_bytes(),
        ..Default::default()
    }
}

/// RFC 3339 in UTC to the second, as Go formats `time.RFC3339`.
pub fn rfc3339_seconds(nanos: Nanos) -> String {
    let seconds = nanos.div_euclid(SECOND);
    chrono::DateTime::<chrono::Utc>::from_timestamp(seconds, 0)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Temporal's overlap decision for the buffer (`ProcessBuffer`).
#[derive(Debug, Default, PartialEq)]
struct BufferDecision {
    overlapping_starts: Vec<BufferedStart>,
    non_overlapping_start: Option<BufferedStart>,
    new_buffer: Vec<BufferedStart>,
    need_cancel: bool,
    need_terminate: bool,
    overlap_skipped: i64,
}

fn decide(buffer: Vec<BufferedStart>, is_running: bool, default_policy: ScheduleOverlapPolicy) -> BufferDecision {
    let mut decision = BufferDecision::default();
    for start in buffer {
        let policy = resolve_policy(start.overlap_policy(), default_policy);
        if policy == ScheduleOverlapPolicy::AllowAll {
            decision.overlapping_starts.push(start);
            continue;
        }
        if !is_running && decision.non_overlapping_start.is_none() {
            decision.non_overlapping_start = Some(start);
            continue;
        }
        match policy {
            ScheduleOverlapPolicy::BufferOne if decision.new_buffer.is_empty() => decision.new_buffer.push(start),
            ScheduleOverlapPolicy::BufferAll => decision.new_buffer.push(start),
            ScheduleOverlapPolicy::CancelOther | ScheduleOverlapPolicy::TerminateOther if !is_running => {
                decision.non_overlapping_start = Some(start);
            }
            ScheduleOverlapPolicy::CancelOther => {
                decision.need_cancel = true;
                decision.new_buffer.push(start);
            }
            ScheduleOverlapPolicy::TerminateOther => {
                decision.need_terminate = true;
                decision.new_buffer.push(start);
            }
            _ => decision.overlap_skipped += 1,
        }
    }
    if decision.need_cancel || decision.need_terminate {
        decision.overlapping_starts.clear();
    }
    decision
}

fn resolve_policy(policy: ScheduleOverlapPolicy, default_policy: ScheduleOverlapPolicy) -> ScheduleOverlapPolicy {
    match (policy, default_policy) {
        (ScheduleOverlapPolicy::Unspecified, ScheduleOverlapPolicy::Unspecified) => ScheduleOverlapPolicy::Skip,
        (ScheduleOverlapPolicy::Unspecified, default_policy) => default_policy,
        (policy, _) => policy,
    }
}

/// A wake that should follow at once. Never the time of the wake being
/// handled: the engine deletes the timer that fired, so a wakeup armed
/// under the same key would be lost.
fn right_after(now: Nanos) -> Nanos {
    now.saturating_add(1)
}

/// The catchup window in effect: Temporal's default and minimum apply.
fn catchup_window(schedule: &ScheduleState) -> Nanos {
    let policies = schedule.schedule.as_ref().and_then(|s| s.policies.as_ref());
    match policies.and_then(|p| p.catchup_window.as_ref()) {
        None => DEFAULT_CATCHUP_WINDOW,
        Some(window) => duration_nanos(Some(window)).max(MIN_CATCHUP_WINDOW),
    }
}

impl RunMutation<'_> {
    fn schedule(&self) -> &ScheduleState {
        self.state.schedule.as_ref().expect("only a schedule's run comes here")
    }

    fn schedule_mut(&mut self) -> &mut ScheduleState {
        self.state.schedule.as_mut().expect("only a schedule's run comes here")
    }

    fn schedule_info_mut(&mut self) -> &mut ScheduleInfo {
        self.schedule_mut().info.get_or_insert_with(Default::default)
    }

    fn measure_schedule(&mut self, event: ScheduleEvent) {
        let namespace_id = namespace_id_of(self.schedule());
        self.effect(Effect::Measure(Measurement::Schedule { namespace_id, event }));
    }

    fn schedule_paused(&self) -> bool {
        self.schedule().schedule.as_ref().and_then(|s| s.state.as_ref()).is_some_and(|state| state.paused)
    }

    /// Brings the schedule up to now: hands due times to the buffer, works
    /// through backfills, starts what the buffer allows, and sets the next
    /// wake. Every change to a schedule ends here.
    pub(super) fn advance_schedule(&mut self) {
        let now = self.now();
        let spec = compiled_spec(self.schedule());
        let last_processed = time_of(self.schedule().last_processed_time.as_ref());
        let end = now.max(last_processed);
        let mut next_wakeup = None;
        if let Some(spec) = &spec {
            let (next, handled_up_to) = self.process_time_range(spec, last_processed, end, None);
            self.schedule_mut().last_processed_time = Some(timestamp_from_nanos(handled_up_to));
            next_wakeup = next;
            self.process_backfills(spec);
        }
        self.process_buffer();
        if !self.schedule().ongoing_backfills.is_empty() {
            // Backfills go in slices; the rest follows at once.
            next_wakeup = Some(right_after(now));
        }
        self.schedule_mut().wakeup_time = next_wakeup.map(timestamp_from_nanos);
        self.refresh_schedule_visibility();
    }

    /// Hands the spec's times in `(start, end]` to the buffer, or counts
    /// them missed. Returns the next time after those handled, and the
    /// time up to which all are handled.
    fn process_time_range(
        &mut self,
        spec: &CompiledSpec,
        start: Nanos,
        end: Nanos,
        manual: Option<(ScheduleOverlapPolicy, &mut usize)>,
    ) -> (Option<Nanos>, Nanos) {
        let seed = jitter_seed(&self.schedule().namespace_id, &self.schedule().schedule_id);
        let (overlap_policy, mut limit) = match manual {
            Some((policy, limit)) => (policy, Some(limit)),
            None => (ScheduleOverlapPolicy::Unspecified, None),
        };
        let is_manual = limit.is_some();
        if !is_manual && !self.can_take_scheduled_action(false, false) {
            // Paused or out of actions: the whole range passes.
            return (spec.next_time(&seed, end).map(|next| next.next), end);
        }
        let catchup = catchup_window(self.schedule());
        let update_time = time_of(self.schedule().info.as_ref().and_then(|info| info.update_time.as_ref()));
        let mut handled_up_to = start;
        let mut after = start;
        let mut visited = 0;
        let mut jumped = false;
        loop {
            let Some(time) = spec.next_time(&seed, after) else { return (None, handled_up_to) };
            let (nominal, actual) = (time.nominal, time.next);
            if actual > end {
                return (Some(actual), handled_up_to);
            }
            if visited >= TIMES_PER_WAKE {
                // After a long downtime, the times before the catchup window
                // (or before the last update) are passed over in one step;
                // the missed count then stops at what was counted.
                let passed = update_time.max(end.saturating_sub(catchup)).saturating_sub(1);
                if !is_manual && !jumped && passed > after {
                    (after, handled_up_to, visited, jumped) = (passed, passed, 0, true);
                    continue;
                }
                return (Some(right_after(self.now())), handled_up_to);
            }
            visited += 1;
            handled_up_to = actual;
            after = actual;
            if !is_manual && update_time > actual {
                continue;
            }
            if !is_manual && end.saturating_sub(actual) > catchup {
                self.schedule_info_mut().missed_catchup_window += 1;
                self.measure_schedule(ScheduleEvent::MissedCatchupWindow);
                continue;
            }
            self.add_start(nominal, actual, overlap_policy, is_manual);
            if let Some(limit) = limit.as_deref_mut() {
                *limit = limit.saturating_sub(1);
                if *limit == 0 {
                    return (spec.next_time(&seed, after).map(|next| next.next), handled_up_to);
                }
            }
        }
    }

    /// Whether an action may be taken now; `decrement` takes one of the
    /// remaining actions.
    fn can_take_scheduled_action(&mut self, manual: bool, decrement: bool) -> bool {
        if manual {
            return true;
        }
        let schedule = self.schedule_mut();
        let state = schedule.schedule.get_or_insert_with(Default::default).state.get_or_insert_with(Default::default);
        if state.paused {
            return false;
        }
        if !state.limited_actions {
            return true;
        }
        if state.remaining_actions <= 0 {
            return false;
        }
        if decrement {
            state.remaining_actions -= 1;
            schedule.conflict_token += 1;
        }
        true
    }

    pub(super) fn add_start(&mut self, nominal: Nanos, actual: Nanos, overlap_policy: ScheduleOverlapPolicy, manual: bool) {
        if self.schedule().buffered_starts.len() >= MAX_BUFFER {
            self.schedule_info_mut().buffer_dropped += 1;
            self.measure_schedule(ScheduleEvent::BufferOverrun);
            return;
        }
        self.schedule_mut().buffered_starts.push(BufferedStart {
            nominal_time: Some(timestamp_from_nanos(nominal)),
            actual_time: Some(timestamp_from_nanos(actual)),
            overlap_policy: overlap_policy as i32,
            manual,
        });
    }

    /// Backfills a slice at a time, using half the buffer at most, as Temporal.
    fn process_backfills(&mut self, spec: &CompiledSpec) {
        let mut limit = BACKFILL_STARTS_PER_WAKE;
        while limit > 0 && self.schedule().buffered_starts.len() < MAX_BUFFER / 2 {
            let Some(backfill) = self.schedule().ongoing_backfills.first().cloned() else { break };
            let start = time_of(backfill.start_time.as_ref());
            let end = time_of(backfill.end_time.as_ref());
            let (next, _) = self.process_time_range(spec, start, end, Some((backfill.overlap_policy(), &mut limit)));
            match next {
                Some(next) if next <= end => {
                    self.schedule_mut().ongoing_backfills[0].start_time = Some(timestamp_from_nanos(next - 1));
                }
                _ => {
                    self.schedule_mut().ongoing_backfills.remove(0);
                }
            }
        }
    }

    fn default_overlap_policy(&self) -> ScheduleOverlapPolicy {
        let policies = self.schedule().schedule.as_ref().and_then(|s| s.policies.as_ref());
        policies.map(|p| p.overlap_policy()).unwrap_or(ScheduleOverlapPolicy::Unspecified)
    }

    fn is_running_for_overlap(&self) -> bool {
        let schedule = self.schedule();
        let running = schedule.info.as_ref().is_some_and(|info| !info.running_workflows.is_empty());
        running || schedule.starts_in_flight.values().any(|start| start.tracked)
    }

    /// Starts what the buffer and the overlap policy allow now.
    fn process_buffer(&mut self) {
        let has_action = self.start_workflow_action().is_some();
        // Each round either empties the buffer or leaves what must wait.
        for _ in 0..MAX_BUFFER {
            if !has_action || self.schedule().buffered_starts.is_empty() {
                self.schedule_mut().buffered_starts.clear();
                return;
            }
            let buffer = std::mem::take(&mut self.schedule_mut().buffered_starts);
            let before = buffer.len();
            let decision = decide(buffer, self.is_running_for_overlap(), self.default_overlap_policy());
            self.schedule_mut().buffered_starts = decision.new_buffer;
            self.schedule_info_mut().overlap_skipped += decision.overlap_skipped;
            let mut starts: Vec<(BufferedStart, bool)> =
                decision.overlapping_starts.into_iter().map(|start| (start, false)).collect();
            starts.extend(decision.non_overlapping_start.map(|start| (start, true)));
            let mut dropped = false;
            for (start, tracked) in starts {
                if self.can_take_scheduled_action(start.manual, true) {
                    self.send_start(start, tracked);
                } else {
                    dropped = true;
                }
            }
            if decision.need_terminate {
                self.stop_running_workflows(true);
            } else if decision.need_cancel {
                self.stop_running_workflows(false);
            }
            let remaining = self.schedule().buffered_starts.len();
            if !dropped || remaining == 0 || remaining >= before {
                return;
            }
        }
    }

    fn start_workflow_action(&self) -> Option<temper_proto::api::workflow::v1::NewWorkflowExecutionInfo> {
        let action = self.schedule().schedule.as_ref()?.action.as_ref()?.action.as_ref()?;
        match action {
            temper_proto::api::schedule::v1::schedule_action::Action::StartWorkflow(start) => Some(start.clone()),
        }
    }

    /// Sends the start of the action's workflow for `start` to its shard.
    fn send_start(&mut self, start: BufferedStart, tracked: bool) {
        let Some(action) = self.start_workflow_action() else { return };
        let nominal = time_of(start.nominal_time.as_ref());
        let allow_all = start.overlap_policy() == ScheduleOverlapPolicy::AllowAll;
        let (run, namespace, namespace_id, schedule_id, retention, start_id) = {
            let info = self.info();
            let schedule = self.schedule();
            (
                info.run_id.clone(),
                schedule.namespace.clone(),
                schedule.namespace_id.clone(),
                schedule.schedule_id.clone(),
                schedule.namespace_retention,
                schedule.next_start_id,
            )
        };
        let schedule_workflow_id = self.info().workflow_id.clone();
        self.schedule_mut().next_start_id += 1;
        let workflow_id = format!("{}-{}", action.workflow_id, rfc3339_seconds(nominal));
        let (last_completion_result, continued_failure) = if allow_all {
            (None, None)
        } else {
            (self.schedule().last_completion_result.clone(), self.schedule().continued_failure.clone())
        };
        let reuse_policy =
            if start.manual { WorkflowIdReusePolicy::AllowDuplicate } else { WorkflowIdReusePolicy::RejectDuplicate };
        let request = StartWorkflowExecutionRequest {
            namespace: namespace.clone(),
            workflow_id: workflow_id.clone(),
            workflow_type: action.workflow_type,
            task_queue: action.task_queue,
            input: action.input,
            workflow_execution_timeout: action.workflow_execution_timeout,
            workflow_run_timeout: action.workflow_run_timeout,
            workflow_task_timeout: action.workflow_task_timeout,
            identity: format!("temporal-scheduler-{namespace}-{schedule_id}"),
            request_id: scheduled_request_id(&run, start_id),
            workflow_id_reuse_policy: reuse_policy as i32,
            retry_policy: action.retry_policy,
            memo: action.memo,
            search_attributes: Some(scheduled_search_attributes(action.search_attributes, nominal, &schedule_id)),
            header: action.header,
            last_completion_result,
            continued_failure,
            user_metadata: action.user_metadata,
            priority: action.priority,
            ..Default::default()
        };
        let command = StartWorkflow {
            request: Some(request),
            run_id: scheduled_run_id(&run, start_id),
            namespace_retention: retention,
            scheduled_by: Some(ScheduledBy { namespace_id: namespace_id.clone(), workflow_id: schedule_workflow_id.clone() }),
        };
        self.effect(Effect::SendCommand(CommandRecord {
            reply_to: None,
            namespace_id: namespace_id.clone(),
            workflow_id: workflow_id.clone(),
            command: Some(Command::StartWorkflow(command)),
            origin: Some(Origin { namespace_id, workflow_id: schedule_workflow_id, run_id: run, initiated_event_id: start_id }),
            trace_context: Default::default(),
        }));
        self.schedule_mut().starts_in_flight.insert(start_id, StartInFlight { start: Some(start), workflow_id, tracked });
    }

    /// Asks the running workflows to stop, once each, for a start waiting
    /// under the cancel-other or terminate-other policy.
    fn stop_running_workflows(&mut self, terminate: bool) {
        let running = self.schedule().info.as_ref().map(|info| info.running_workflows.clone()).unwrap_or_default();
        let (namespace, namespace_id, schedule_id) = {
            let schedule = self.schedule();
            (schedule.namespace.clone(), schedule.namespace_id.clone(), schedule.schedule_id.clone())
        };
        let run_id = self.info().run_id.clone();
        for execution in running {
            if self.schedule().stop_requested.contains(&execution.workflow_id) {
                continue;
            }
            let request_number = self.schedule().next_start_id;
            self.schedule_mut().next_start_id += 1;
            let identity = format!("temporal-scheduler-{namespace}-{schedule_id}");
            // Only the chain the schedule started is stopped, not a later
            // workflow that reuses its id.
            let target = Some(WorkflowExecution { workflow_id: execution.workflow_id.clone(), run_id: String::new() });
            let command = if terminate {
                Command::TerminateWorkflow(TerminateWorkflow {
                    request: Some(TerminateWorkflowExecutionRequest {
                        namespace: namespace.clone(),
                        workflow_execution: target,
                        reason: "terminated by schedule overlap policy".into(),
                        identity,
                        first_execution_run_id: execution.run_id.clone(),
                        ..Default::default()
                    }),
                })
            } else {
                Command::RequestCancelWorkflow(RequestCancelWorkflow {
                    request: Some(RequestCancelWorkflowExecutionRequest {
                        namespace: namespace.clone(),
                        workflow_execution: target,
                        identity,
                        request_id: request_id(&run_id, -request_number),
                        first_execution_run_id: execution.run_id.clone(),
                        reason: "cancelled by schedule overlap policy".into(),
                        ..Default::default()
                    }),
                })
            };
            self.effect(Effect::SendCommand(CommandRecord {
                reply_to: None,
                namespace_id: namespace_id.clone(),
                workflow_id: execution.workflow_id.clone(),
                command: Some(command),
                origin: None,
                trace_context: Default::default(),
            }));
            self.schedule_mut().stop_requested.push(execution.workflow_id);
        }
    }

    /// A start the schedule sent was answered.
    pub(super) fn record_scheduled_start(&mut self, start_id: i64, started_run_id: &str) {
        let Some(in_flight) = self.schedule_mut().starts_in_flight.remove(&start_id) else { return };
        if started_run_id.is_empty() {
            // The workflow id was taken (Temporal drops such a start too).
            return;
        }
        let now = self.now();
        let start = in_flight.start.unwrap_or_default();
        let due = time_of(start.actual_time.as_ref());
        self.measure_schedule(ScheduleEvent::ActionSucceeded { delay_nanos: now.saturating_sub(due).max(0) });
        let execution = WorkflowExecution { workflow_id: in_flight.workflow_id, run_id: started_run_id.to_string() };
        let result = ScheduleActionResult {
            schedule_time: start.actual_time,
            actual_time: Some(timestamp_from_nanos(now)),
            start_workflow_result: Some(execution.clone()),
            start_workflow_status: WorkflowExecutionStatus::Running as i32,
        };
        let info = self.schedule_info_mut();
        info.action_count += 1;
        info.recent_actions.push(result);
        let excess = info.recent_actions.len().saturating_sub(RECENT_ACTIONS);
        info.recent_actions.drain(..excess);
        if in_flight.tracked {
            info.running_workflows.push(execution);
        }
    }

    /// A workflow the schedule started ended.
    pub(super) fn record_scheduled_close(
        &mut self,
        closed: &temper_proto::records::RecordScheduledWorkflowClosed,
    ) {
        let workflow_id = closed.execution.as_ref().map(|e| e.workflow_id.clone()).unwrap_or_default();
        let status = closed.status();
        let info = self.schedule_info_mut();
        info.running_workflows.retain(|execution| execution.workflow_id != workflow_id);
        for action in info.recent_actions.iter_mut() {
            if action.start_workflow_result.as_ref().is_some_and(|e| e.workflow_id == workflow_id) {
                action.start_workflow_status = status as i32;
            }
        }
        self.schedule_mut().stop_requested.retain(|id| *id != workflow_id);
        let failed = matches!(status, WorkflowExecutionStatus::Failed | WorkflowExecutionStatus::TimedOut);
        let pause_on_failure =
            self.schedule().schedule.as_ref().and_then(|s| s.policies.as_ref()).is_some_and(|p| p.pause_on_failure);
        if pause_on_failure && failed && !self.schedule_paused() {
            let notes = if status == WorkflowExecutionStatus::Failed {
                let message = closed.failure.as_ref().map(|f| f.message.clone()).unwrap_or_default();
                format!("paused due to workflow failure: {workflow_id}: {message}")
            } else {
                format!("paused due to workflow timeout: {workflow_id}")
            };
            let schedule = self.schedule_mut();
            let state = schedule.schedule.get_or_insert_with(Default::default).state.get_or_insert_with(Default::default);
            state.paused = true;
            state.notes = notes;
            schedule.conflict_token += 1;
        }
        if let Some(result) = &closed.result {
            self.schedule_mut().last_completion_result = Some(result.clone());
            self.schedule_mut().continued_failure = None;
        } else if let Some(failure) = &closed.failure {
            self.schedule_mut().continued_failure = Some(failure.clone());
        }
    }

    /// The schedule's summary for ListSchedules, and its paused attribute.
    fn refresh_schedule_visibility(&mut self) {
        let paused = self.schedule_paused();
        let attributes = self.info_mut().search_attributes.get_or_insert_with(Default::default);
        attributes.indexed_fields.insert(
            "TemporalSchedulePaused".to_string(),
            search_attribute_payload(paused.to_string(), "Bool"),
        );
        self.mark_visibility_changed();
    }
}

/// The action's search attributes plus those Temporal adds to a scheduled
/// start: which schedule, and its nominal time.
fn scheduled_search_attributes(attributes: Option<SearchAttributes>, nominal: Nanos, schedule_id: &str) -> SearchAttributes {
    let mut attributes = attributes.unwrap_or_default();
    attributes.indexed_fields.insert(
        "TemporalScheduledStartTime".to_string(),
        search_attribute_payload(format!("\"{}\"", rfc3339_seconds(nominal)), "Datetime"),
    );
    attributes.indexed_fields.insert(
        "TemporalScheduledById".to_string(),
        search_attribute_payload(serde_json::Value::String(schedule_id.to_string()).to_string(), "Keyword"),
    );
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(policy: ScheduleOverlapPolicy, second: i64) -> BufferedStart {
        BufferedStart {
            nominal_time: Some(timestamp_from_nanos(second * SECOND)),
            actual_time: Some(timestamp_from_nanos(second * SECOND)),
            overlap_policy: policy as i32,
            manual: false,
        }
    }

    #[test]
    fn overlap_policies_decide_as_temporal_does() {
        use ScheduleOverlapPolicy::*;
        let skip = decide(vec![start(Skip, 1), start(Skip, 2)], true, Unspecified);
        assert_eq!((skip.overlap_skipped, skip.new_buffer.len(), skip.non_overlapping_start), (2, 0, None));
        let idle = decide(vec![start(Skip, 1), start(Skip, 2)], false, Unspecified);
        assert_eq!(idle.non_overlapping_start, Some(start(Skip, 1)));
        assert_eq!(idle.overlap_skipped, 1);
        let one = decide(vec![start(BufferOne, 1), start(BufferOne, 2), start(BufferOne, 3)], true, Unspecified);
        assert_eq!((one.new_buffer, one.overlap_skipped), (vec![start(BufferOne, 1)], 2));
        let all = decide(vec![start(BufferAll, 1), start(BufferAll, 2)], true, Unspecified);
        assert_eq!(all.new_buffer.len(), 2);
        let cancel = decide(vec![start(CancelOther, 1)], true, Unspecified);
        assert!(cancel.need_cancel && !cancel.need_terminate && cancel.new_buffer.len() == 1);
        let terminate = decide(vec![start(Unspecified, 1)], true, TerminateOther);
        assert!(terminate.need_terminate && terminate.new_buffer.len() == 1);
        let newest_wins = decide(vec![start(TerminateOther, 1), start(TerminateOther, 2)], false, Unspecified);
        assert_eq!(newest_wins.non_overlapping_start, Some(start(TerminateOther, 2)));
        let allow = decide(vec![start(AllowAll, 1), start(AllowAll, 2)], true, Unspecified);
        assert_eq!(allow.overlapping_starts.len(), 2);
        let allow_with_terminate = decide(vec![start(AllowAll, 1), start(TerminateOther, 2)], true, Unspecified);
        assert!(allow_with_terminate.overlapping_starts.is_empty() && allow_with_terminate.need_terminate);
    }

    #[test]
    fn scheduled_workflow_ids_carry_the_nominal_time_to_the_second() {
        assert_eq!(rfc3339_seconds(1_700_000_000 * SECOND + 999_999_999), "2023-11-14T22:13:20Z");
    }
}
