//! CreateSchedule: creates the run that keeps the schedule, unless a running
//! one has its id. A retried request with the same request id gets the
//! first outcome.

use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::history::v1::WorkflowExecutionStartedEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::schedule::v1::{Schedule, ScheduleInfo};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::records::{CreateSchedule, ExecutionInfo, ScheduleState, WorkflowMutableState};

use super::patch_schedule::apply_patch;
use super::start_workflow::StartOutcome;
use super::{Reply, is_running};
use crate::schedules::spec::CompiledSpec;
use crate::state_machine::history::RunMutation;
use crate::state_machine::scheduler::{NAMESPACE_DIVISION, WORKFLOW_TYPE, search_attribute_payload};
use crate::state_machine::{Clock, CommandError, NewRun};
use crate::time::timestamp_from_nanos;

/// Temporal's first conflict token.
const INITIAL_CONFLICT_TOKEN: i64 = 1;
/// The task queue Temporal's scheduler workflows name.
const SYSTEM_TASK_QUEUE: &str = "temporal-sys-per-ns-tq";

pub fn apply(
    namespace_id: &str,
    workflow_id: &str,
    current: Option<&mut WorkflowMutableState>,
    command: &CreateSchedule,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    let request = command.request.as_ref().ok_or_else(|| CommandError::InvalidArgument("create request is missing".into()))?;
    if let Some(current) = current {
        let info = current.info.as_ref().expect("a run always has execution info");
        if !request.request_id.is_empty() && info.create_request_id == request.request_id {
            let reply = Reply::Started { run_id: info.run_id.clone(), started: true };
            return Ok(StartOutcome { reply, new_run: None, previous_run: None });
        }
        if is_running(current) {
            return Err(CommandError::WorkflowAlreadyStarted {
                message: format!("schedule {:?} is already registered", request.schedule_id),
                start_request_id: info.create_request_id.clone(),
                run_id: info.run_id.clone(),
            });
        }
    }
    let schedule = canonical_schedule(request.schedule.clone().unwrap_or_default())?;
    let mut state = new_schedule_run(namespace_id, workflow_id, command, clock);
    let now = clock.now;
    state.schedule = Some(ScheduleState {
        schedule_id: request.schedule_id.clone(),
        namespace: request.namespace.clone(),
        namespace_id: namespace_id.to_string(),
        schedule: Some(schedule),
        info: Some(ScheduleInfo { create_time: Some(timestamp_from_nanos(now)), ..Default::default() }),
        conflict_token: INITIAL_CONFLICT_TOKEN,
        last_processed_time: Some(timestamp_from_nanos(now)),
        namespace_retention: command.namespace_retention,
        ..Default::default()
    });
    let mut mutation = RunMutation::creating(&mut state, clock);
    mutation.add_event(Attributes::from(started_event(mutation.info(), &request.identity)));
    if let Some(patch) = &request.initial_patch {
        apply_patch(&mut mutation, patch);
    }
    mutation.advance_schedule();
    let transition = mutation.finish();
    let reply = Reply::Started { run_id: command.run_id.clone(), started: true };
    Ok(StartOutcome { reply, new_run: Some(NewRun { state, transition, eager_task: None }), previous_run: None })
}

/// The schedule as kept: its spec in canonical form, and the parts a
/// request may leave out present.
pub(super) fn canonical_schedule(mut schedule: Schedule) -> Result<Schedule, CommandError> {
    let spec = schedule.spec.clone().unwrap_or_default();
    let compiled = CompiledSpec::compile(&spec).map_err(|error| CommandError::InvalidArgument(format!("Invalid schedule spec: {error}")))?;
    schedule.spec = Some(compiled.canonical_spec());
    schedule.policies.get_or_insert_with(Default::default);
    schedule.state.get_or_insert_with(Default::default);
    Ok(schedule)
}

fn new_schedule_run(namespace_id: &str, workflow_id: &str, command: &CreateSchedule, clock: Clock<'_>) -> WorkflowMutableState {
    let request = command.request.as_ref().expect("checked by the caller");
    let mut search_attributes = request.search_attributes.clone().unwrap_or_default();
    search_attributes.indexed_fields.insert(
        "TemporalNamespaceDivision".to_string(),
        search_attribute_payload(format!("\"{NAMESPACE_DIVISION}\""), "Keyword"),
    );
    let now = timestamp_from_nanos(clock.now);
    WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: namespace_id.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: command.run_id.clone(),
            first_run_id: command.run_id.clone(),
            workflow_type: Some(WorkflowType { name: WORKFLOW_TYPE.to_string() }),
            task_queue: SYSTEM_TASK_QUEUE.to_string(),
            start_time: Some(now),
            execution_time: Some(now),
            status: WorkflowExecutionStatus::Running as i32,
            next_event_id: 1,
            create_request_id: request.request_id.clone(),
            memo: request.memo.clone(),
            search_attributes: Some(search_attributes),
            workflow_task_attempt: 1,
            retention: command.namespace_retention,
            attempt: 1,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn started_event(info: &ExecutionInfo, identity: &str) -> WorkflowExecutionStartedEventAttributes {
    WorkflowExecutionStartedEventAttributes {
        workflow_type: info.workflow_type.clone(),
        task_queue: Some(TaskQueue { name: info.task_queue.clone(), ..Default::default() }),
        identity: identity.to_string(),
        original_execution_run_id: info.run_id.clone(),
        first_execution_run_id: info.run_id.clone(),
        attempt: 1,
        memo: info.memo.clone(),
        search_attributes: info.search_attributes.clone(),
        workflow_id: info.workflow_id.clone(),
        ..Default::default()
    }
}
