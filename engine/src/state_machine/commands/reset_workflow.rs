//! ResetWorkflowExecution: a new run of the workflow starts from a prefix of
//! a run's history, up to one of its workflow tasks, which is failed with
//! cause RESET_WORKFLOW so the workflow decides afresh from there; signals
//! the old run got after that point are applied again. A running current run
//! is terminated. The shard reads the old run's history and hands it here.

use temper_proto::api::enums::v1::{EventType, ResetReapplyExcludeType, ResetReapplyType, WorkflowTaskFailedCause};
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{Failure, ResetWorkflowFailureInfo};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{HistoryEvent, WorkflowTaskFailedEventAttributes};
use temper_proto::records::{ExecutionInfo, ResetWorkflow, WorkflowMutableState};

use super::start_workflow::StartOutcome;
use super::terminate_workflow::terminate;
use super::{Reply, is_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::rebuild::rebuild;
use crate::state_machine::{Clock, CommandError, NewRun, Transition};

/// `base_events` is the base run's history from event 1.
pub fn apply(
    base: &ExecutionInfo,
    base_events: &[HistoryEvent],
    current: Option<&mut WorkflowMutableState>,
    command: &ResetWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    super::refuse_schedule_run(current.as_deref(), "ResetWorkflow")?;
    let request = command.request.clone().unwrap_or_default();
    let prefix_end = reset_point(base_events, request.workflow_task_finish_event_id)?;
    let rebuilt = rebuild(&base_events[..prefix_end], base, &command.new_run_id, &request.request_id, clock.now)?;
    let is_base = |run: &WorkflowMutableState| run.info.as_ref().is_some_and(|info| info.run_id == base.run_id);
    let previous_run = match current {
        Some(current) if is_running(current) => {
            if is_base(current) {
                // Recorded by the termination's own transition.
                set_reset_run_id(current, &command.new_run_id);
            }
            Some(terminate(current, &request.reason, None, &request.identity, clock))
        }
        Some(current) if is_base(current) => Some(mark_reset_base(current, &command.new_run_id, clock)),
        _ => None,
    };
    let mut state = rebuilt.state;
    let mut mutation = RunMutation::creating(&mut state, clock);
    // Temporal commits the state rebuilt from the base run's history before
    // it adds the reset's events: one more state transition.
    mutation.info_mut().state_transition_count += 1;
    let (scheduled_event_id, started_event_id) = rebuilt.open_task;
    mutation.add_event(Attributes::from(WorkflowTaskFailedEventAttributes {
        scheduled_event_id,
        started_event_id,
        cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
        failure: Some(reset_failure(&request.reason)),
        identity: request.identity.clone(),
        base_run_id: base.run_id.clone(),
        new_run_id: command.new_run_id.clone(),
        ..Default::default()
    }));
    if reapplies_signals(&request) {
        for signal in base_events[prefix_end..].iter().filter(|e| e.event_type() == EventType::WorkflowExecutionSignaled) {
            mutation.add_event(signal.attributes.clone().expect("a signaled event has attributes"));
        }
    }
    let activities: Vec<i64> = mutation.state.activities.keys().copied().collect();
    for scheduled_event_id in activities {
        mutation.dispatch_activity(scheduled_event_id);
    }
    let timers: Vec<String> = mutation.state.timers.keys().cloned().collect();
    for timer_id in timers {
        mutation.arm_user_timer(&timer_id);
    }
    mutation.schedule_workflow_task();
    mutation.mark_visibility_changed();
    let added = mutation.finish();
    let transition = Transition { events: base_events[..prefix_end].to_vec(), ..Default::default() }.then(added);
    Ok(StartOutcome {
        reply: Reply::Started { run_id: command.new_run_id.clone(), started: true },
        new_run: Some(NewRun { state, transition, eager_task: None }),
        previous_run,
    })
}

/// Points the base run of a reset at the run the reset started, as Temporal
/// does: describing the base run shows it. The shard applies this to a base
/// run that is no longer current; `apply` does it for one that is.
pub fn mark_reset_base(base: &mut WorkflowMutableState, new_run_id: &str, clock: Clock<'_>) -> Transition {
    set_reset_run_id(base, new_run_id);
    let mut mutation = RunMutation::new(base, clock);
    mutation.touch();
    mutation.finish()
}

fn set_reset_run_id(run: &mut WorkflowMutableState, new_run_id: &str) {
    if let Some(info) = run.info.as_mut() {
        info.reset_run_id = new_run_id.to_string();
    }
}

/// How many events of the base run the new run keeps: through the
/// workflow task started event the reset point closes (or is).
fn reset_point(events: &[HistoryEvent], finish_event_id: i64) -> Result<usize, CommandError> {
    let bad = || {
        CommandError::InvalidArgument(format!(
            "WorkflowTaskFinishEventId {finish_event_id} is not a workflow task's completed, failed, timed-out or started event of the run"
        ))
    };
    let index = usize::try_from(finish_event_id).ok().filter(|id| *id >= 2).ok_or_else(bad)? - 1;
    let event = events.get(index).ok_or_else(bad)?;
    match event.event_type() {
        EventType::WorkflowTaskCompleted | EventType::WorkflowTaskFailed | EventType::WorkflowTaskTimedOut => Ok(index),
        EventType::WorkflowTaskStarted => Ok(index + 1),
        _ => Err(bad()),
    }
}

#[allow(deprecated)]
fn reapplies_signals(request: &temper_proto::api::workflowservice::v1::ResetWorkflowExecutionRequest) -> bool {
    request.reset_reapply_type() != ResetReapplyType::None
        && !request.reset_reapply_exclude_types.contains(&(ResetReapplyExcludeType::Signal as i32))
}

fn reset_failure(reason: &str) -> Failure {
    Failure {
        message: reason.to_string(),
        failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(ResetWorkflowFailureInfo::default())),
        ..Default::default()
    }
}
