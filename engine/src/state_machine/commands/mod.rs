//! One module per command of the `commands` log, plus the durable timers.

mod cancel_activity_task;
mod complete_activity_task;
mod complete_workflow_task;
mod create_schedule;
mod delete_schedule;
mod delete_workflow;
mod expire_run;
mod fail_activity_task;
mod fail_workflow_task;
mod fire_timer;
mod patch_schedule;
mod record_activity_task_heartbeat;
mod record_activity_task_started;
mod record_child_workflow_closed;
mod record_child_workflow_started;
mod record_external_request_outcome;
mod record_scheduled_workflow_closed;
mod record_scheduled_workflow_started;
mod record_workflow_task_started;
mod request_cancel_workflow;
mod reset_workflow;
mod reset_sticky_task_queue;
mod signal_with_start_workflow;
mod signal_workflow;
mod start_child_workflow;
mod start_workflow;
mod terminate_workflow;
mod update_schedule;
mod update_with_start_workflow;
mod update_workflow;

#[cfg(test)]
mod tests;

pub use create_schedule::apply as create_schedule;
pub use fire_timer::{apply as fire_timer, fire_timers};
pub use terminate_workflow::SERVER_IDENTITY;
pub use signal_with_start_workflow::{apply as signal_with_start_workflow, start_request_of};
pub use reset_workflow::apply as reset_workflow;
pub use reset_workflow::mark_reset_base;
pub use start_child_workflow::apply as start_child_workflow;
pub use start_workflow::{StartOutcome, apply as start_workflow};
pub use update_with_start_workflow::apply as update_with_start_workflow;

use temper_proto::records::command_record::Command;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::{SignalExternalWorkflowExecutionFailedCause, StartChildWorkflowExecutionFailedCause};
use temper_proto::records::{
    CommandRecord, Origin, RecordChildWorkflowStarted, RecordExternalRequestOutcome, TaskToken, WorkflowMutableState,
};

pub use super::activity::ActivityTaskStarted;
pub use super::workflow_task::WorkflowTaskStarted;
use super::{Clock, CommandError, Transition};
use crate::time::timestamp_nanos;

/// The outcome a waiting gateway request gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A run was started, or an earlier start with the same request id is answered again.
    Started { run_id: String, started: bool },
    Accepted,
    WorkflowTaskStarted(WorkflowTaskStarted),
    /// The next workflow task, started already when the worker asked for it.
    /// `reset_history_event_id` is set when the task was discarded (a
    /// speculative task that only rejected updates): the last workflow task
    /// started event in history, to which the worker rolls its cache back.
    /// `activity_tasks` are activities started for the completing worker
    /// (eager activity dispatch).
    WorkflowTaskCompleted {
        new_task: Option<WorkflowTaskStarted>,
        reset_history_event_id: i64,
        activity_tasks: Vec<ActivityTaskStarted>,
    },
    ActivityTaskStarted(ActivityTaskStarted),
    Heartbeat { cancel_requested: bool },
    /// A run was started with its first workflow task, for the worker
    /// behind the client that asked for eager execution.
    StartedEagerly { run_id: String, task: Box<WorkflowTaskStarted> },
    /// An update was admitted to run `run_id`, which the same command
    /// started if `started` (update-with-start).
    UpdateAdmitted { run_id: String, started: bool },
}

/// A command's outcome on a run: the reply (which may be an error even
/// though the state changed, as when a workflow task completion is refused
/// and the task fails) and the transition to commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub reply: Result<Reply, CommandError>,
    pub transition: Transition,
}

impl Applied {
    fn ok((reply, transition): (Reply, Transition)) -> Self {
        Applied { reply: Ok(reply), transition }
    }
}

/// Which run of a workflow a command is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The workflow's newest run (possibly created by the command).
    CurrentRun,
    Run(String),
}

/// The run a command addresses; an empty run id means the current run.
pub fn target_of(command: &Command) -> Target {
    let run_id = match command {
        Command::StartWorkflow(_)
        | Command::SignalWithStartWorkflow(_)
        | Command::StartChildWorkflow(_)
        | Command::UpdateWithStartWorkflow(_)
        | Command::ResetWorkflow(_)
        | Command::CreateSchedule(_)
        | Command::UpdateSchedule(_)
        | Command::PatchSchedule(_)
        | Command::DeleteSchedule(_)
        | Command::RecordScheduledWorkflowClosed(_) => {
            return Target::CurrentRun;
        }
        Command::RecordScheduledWorkflowStarted(c) => c.run_id.clone(),
        Command::UpdateWorkflow(c) => execution_run_id(c.request.as_ref().and_then(|r| r.workflow_execution.as_ref())),
        Command::SignalWorkflow(c) => execution_run_id(c.request.as_ref().and_then(|r| r.workflow_execution.as_ref())),
        Command::RequestCancelWorkflow(c) => execution_run_id(c.request.as_ref().and_then(|r| r.workflow_execution.as_ref())),
        Command::TerminateWorkflow(c) => execution_run_id(c.request.as_ref().and_then(|r| r.workflow_execution.as_ref())),
        Command::DeleteWorkflow(c) => execution_run_id(c.workflow_execution.as_ref()),
        Command::RecordWorkflowTaskStarted(c) => c.run_id.clone(),
        Command::RecordActivityTaskStarted(c) => c.run_id.clone(),
        Command::ResetStickyTaskQueue(c) => c.run_id.clone(),
        Command::CompleteWorkflowTask(c) => token_run_id(c.token.as_ref()),
        Command::FailWorkflowTask(c) => token_run_id(c.token.as_ref()),
        Command::CompleteActivityTask(c) => token_run_id(c.token.as_ref()),
        Command::FailActivityTask(c) => token_run_id(c.token.as_ref()),
        Command::CancelActivityTask(c) => token_run_id(c.token.as_ref()),
        Command::RecordActivityTaskHeartbeat(c) => token_run_id(c.token.as_ref()),
        Command::RecordChildWorkflowStarted(c) => c.run_id.clone(),
        Command::RecordChildWorkflowClosed(c) => c.run_id.clone(),
        Command::RecordExternalRequestOutcome(c) => c.run_id.clone(),
    };
    if run_id.is_empty() { Target::CurrentRun } else { Target::Run(run_id) }
}

/// The command's name, for logs.
pub fn name_of(command: &Command) -> &'static str {
    match command {
        Command::StartWorkflow(_) => "StartWorkflow",
        Command::SignalWithStartWorkflow(_) => "SignalWithStartWorkflow",
        Command::SignalWorkflow(_) => "SignalWorkflow",
        Command::RequestCancelWorkflow(_) => "RequestCancelWorkflow",
        Command::TerminateWorkflow(_) => "TerminateWorkflow",
        Command::DeleteWorkflow(_) => "DeleteWorkflow",
        Command::RecordWorkflowTaskStarted(_) => "RecordWorkflowTaskStarted",
        Command::RecordActivityTaskStarted(_) => "RecordActivityTaskStarted",
        Command::ResetStickyTaskQueue(_) => "ResetStickyTaskQueue",
        Command::CompleteWorkflowTask(_) => "CompleteWorkflowTask",
        Command::FailWorkflowTask(_) => "FailWorkflowTask",
        Command::CompleteActivityTask(_) => "CompleteActivityTask",
        Command::FailActivityTask(_) => "FailActivityTask",
        Command::CancelActivityTask(_) => "CancelActivityTask",
        Command::RecordActivityTaskHeartbeat(_) => "RecordActivityTaskHeartbeat",
        Command::StartChildWorkflow(_) => "StartChildWorkflow",
        Command::RecordChildWorkflowStarted(_) => "RecordChildWorkflowStarted",
        Command::RecordChildWorkflowClosed(_) => "RecordChildWorkflowClosed",
        Command::RecordExternalRequestOutcome(_) => "RecordExternalRequestOutcome",
        Command::UpdateWorkflow(_) => "UpdateWorkflow",
        Command::UpdateWithStartWorkflow(_) => "UpdateWithStartWorkflow",
        Command::ResetWorkflow(_) => "ResetWorkflow",
        Command::CreateSchedule(_) => "CreateSchedule",
        Command::UpdateSchedule(_) => "UpdateSchedule",
        Command::PatchSchedule(_) => "PatchSchedule",
        Command::DeleteSchedule(_) => "DeleteSchedule",
        Command::RecordScheduledWorkflowStarted(_) => "RecordScheduledWorkflowStarted",
        Command::RecordScheduledWorkflowClosed(_) => "RecordScheduledWorkflowClosed",
    }
}

fn execution_run_id(execution: Option<&temper_proto::api::common::v1::WorkflowExecution>) -> String {
    execution.map(|e| e.run_id.clone()).unwrap_or_default()
}

fn token_run_id(token: Option<&TaskToken>) -> String {
    token.map(|t| t.run_id.clone()).unwrap_or_default()
}

/// An `Err` means the command was refused and the state is unchanged.
/// `origin` is the workflow that sent the command, if one did.
pub fn apply_to_run(
    state: &mut WorkflowMutableState,
    command: &Command,
    origin: Option<&Origin>,
    clock: Clock<'_>,
) -> Result<Applied, CommandError> {
    if state.schedule.is_some() && !is_for_schedules(command) {
        return Err(CommandError::InvalidArgument(format!(
            "{} is not accepted by a schedule's workflow; use the schedule API",
            name_of(command)
        )));
    }
    match command {
        Command::CompleteWorkflowTask(c) => complete_workflow_task::apply(state, c, clock),
        Command::SignalWorkflow(c) => signal_workflow::apply(state, c, origin, clock).map(Applied::ok),
        Command::RequestCancelWorkflow(c) => request_cancel_workflow::apply(state, c, origin, clock).map(Applied::ok),
        Command::TerminateWorkflow(c) => terminate_workflow::apply(state, c, clock).map(Applied::ok),
        Command::DeleteWorkflow(c) => delete_workflow::apply(state, c).map(Applied::ok),
        Command::RecordWorkflowTaskStarted(c) => record_workflow_task_started::apply(state, c, clock).map(Applied::ok),
        Command::FailWorkflowTask(c) => fail_workflow_task::apply(state, c, clock).map(Applied::ok),
        Command::RecordActivityTaskStarted(c) => record_activity_task_started::apply(state, c, clock).map(Applied::ok),
        Command::CompleteActivityTask(c) => complete_activity_task::apply(state, c, clock).map(Applied::ok),
        Command::FailActivityTask(c) => fail_activity_task::apply(state, c, clock).map(Applied::ok),
        Command::CancelActivityTask(c) => cancel_activity_task::apply(state, c, clock).map(Applied::ok),
        Command::RecordActivityTaskHeartbeat(c) => {
            record_activity_task_heartbeat::apply(state, c, clock).map(Applied::ok)
        }
        Command::ResetStickyTaskQueue(c) => reset_sticky_task_queue::apply(state, c, clock).map(Applied::ok),
        Command::RecordChildWorkflowStarted(c) => record_child_workflow_started::apply(state, c, clock).map(Applied::ok),
        Command::RecordChildWorkflowClosed(c) => record_child_workflow_closed::apply(state, c, clock).map(Applied::ok),
        Command::RecordExternalRequestOutcome(c) => {
            record_external_request_outcome::apply(state, c, clock).map(Applied::ok)
        }
        Command::UpdateWorkflow(c) => update_workflow::apply(state, c, clock).map(Applied::ok),
        Command::UpdateSchedule(c) => update_schedule::apply(state, c, clock).map(Applied::ok),
        Command::PatchSchedule(c) => patch_schedule::apply(state, c, clock).map(Applied::ok),
        Command::DeleteSchedule(c) => delete_schedule::apply(state, c, clock).map(Applied::ok),
        Command::RecordScheduledWorkflowStarted(c) => {
            record_scheduled_workflow_started::apply(state, c, clock).map(Applied::ok)
        }
        Command::RecordScheduledWorkflowClosed(c) => {
            record_scheduled_workflow_closed::apply(state, c, clock).map(Applied::ok)
        }
        Command::CreateSchedule(_)
        | Command::StartWorkflow(_)
        | Command::SignalWithStartWorkflow(_)
        | Command::StartChildWorkflow(_)
        | Command::UpdateWithStartWorkflow(_)
        | Command::ResetWorkflow(_) => {
            Err(CommandError::InvalidArgument("start commands create a run; they are not applied to one".into()))
        }
    }
}

/// The commands a schedule's run takes: the schedule's own, and those that
/// end or remove a run.
fn is_for_schedules(command: &Command) -> bool {
    matches!(
        command,
        Command::UpdateSchedule(_)
            | Command::PatchSchedule(_)
            | Command::DeleteSchedule(_)
            | Command::RecordScheduledWorkflowStarted(_)
            | Command::RecordScheduledWorkflowClosed(_)
            | Command::TerminateWorkflow(_)
            | Command::DeleteWorkflow(_)
    )
}

/// Signal-with-start, update-with-start and reset would treat a schedule's
/// running run as a workflow's: they are refused, as signals are.
fn refuse_schedule_run(current: Option<&WorkflowMutableState>, what: &str) -> Result<(), CommandError> {
    match current {
        Some(state) if state.schedule.is_some() && is_running(state) => Err(CommandError::InvalidArgument(format!(
            "{what} is not accepted by a schedule's workflow; use the schedule API"
        ))),
        _ => Ok(()),
    }
}

fn require_schedule(state: &WorkflowMutableState) -> Result<(), CommandError> {
    if state.schedule.is_some() { Ok(()) } else { Err(schedule_not_found()) }
}

fn schedule_not_found() -> CommandError {
    CommandError::NotFound("schedule not found".into())
}

/// Whether the run is still open.
pub fn is_running(state: &WorkflowMutableState) -> bool {
    state.info.as_ref().is_some_and(|info| info.close_time.is_none())
}

fn require_running(state: &WorkflowMutableState) -> Result<(), CommandError> {
    if is_running(state) { Ok(()) } else { Err(CommandError::WorkflowCompleted) }
}

/// A request naming the first run of a chain (a parent close policy, which
/// knows its child's first run) is for that chain only, not for a later
/// workflow that reuses the id.
fn require_chain(state: &WorkflowMutableState, first_execution_run_id: &str) -> Result<(), CommandError> {
    let info = state.info.as_ref().expect("a run always has execution info");
    if first_execution_run_id.is_empty() || info.first_run_id == first_execution_run_id {
        return Ok(());
    }
    Err(CommandError::WorkflowNotFound { workflow_id: info.workflow_id.clone(), run_id: String::new() })
}

fn origin_execution(origin: &Origin) -> WorkflowExecution {
    WorkflowExecution { workflow_id: origin.workflow_id.clone(), run_id: origin.run_id.clone() }
}

/// The command that tells the workflow which sent `command` how it went: a
/// child's start, or a signal or cancel request. `None` for other commands.
pub fn reply_to_origin(command: &Command, origin: &Origin, result: &Result<Reply, CommandError>) -> Option<CommandRecord> {
    let reply = match command {
        Command::StartChildWorkflow(start) => {
            let (child_run_id, failure_cause) = match result {
                Ok(Reply::Started { run_id, .. }) => (run_id.clone(), StartChildWorkflowExecutionFailedCause::Unspecified),
                _ => (String::new(), StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists),
            };
            Command::RecordChildWorkflowStarted(RecordChildWorkflowStarted {
                run_id: origin.run_id.clone(),
                initiated_event_id: origin.initiated_event_id,
                child_run_id,
                failure_cause: failure_cause as i32,
                header: start.request.as_ref().and_then(|request| request.header.clone()),
            })
        }
        Command::SignalWorkflow(_) | Command::RequestCancelWorkflow(_) => {
            let failure_cause = match result {
                Ok(_) => SignalExternalWorkflowExecutionFailedCause::Unspecified,
                Err(_) => SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound,
            };
            Command::RecordExternalRequestOutcome(RecordExternalRequestOutcome {
                run_id: origin.run_id.clone(),
                initiated_event_id: origin.initiated_event_id,
                failure_cause: failure_cause as i32,
            })
        }
        Command::StartWorkflow(_) => {
            let (started_run_id, failure) = match result {
                Ok(Reply::Started { run_id, .. } | Reply::StartedEagerly { run_id, .. }) => (run_id.clone(), String::new()),
                Ok(_) => (String::new(), "unexpected reply".to_string()),
                Err(error) => (String::new(), error.to_string()),
            };
            Command::RecordScheduledWorkflowStarted(temper_proto::records::RecordScheduledWorkflowStarted {
                run_id: origin.run_id.clone(),
                start_id: origin.initiated_event_id,
                started_run_id,
                failure,
            })
        }
        _ => return None,
    };
    Some(CommandRecord {
        reply_to: None,
        namespace_id: origin.namespace_id.clone(),
        workflow_id: origin.workflow_id.clone(),
        command: Some(reply),
        origin: None,
        trace_context: Default::default(),
    })
}

/// The running workflow task a worker's token refers to, if it still is.
fn started_workflow_task<'s>(
    state: &'s WorkflowMutableState,
    token: Option<&TaskToken>,
) -> Result<&'s temper_proto::records::WorkflowTaskInfo, CommandError> {
    require_running(state)?;
    let token = token.ok_or(CommandError::WorkflowTaskNotFound)?;
    let wft = state.workflow_task.as_ref().ok_or(CommandError::WorkflowTaskNotFound)?;
    let matches = wft.scheduled_event_id == token.scheduled_event_id
        && wft.started_event_id != 0
        && wft.started_event_id == token.started_event_id
        && wft.attempt == token.attempt;
    if matches { Ok(wft) } else { Err(CommandError::WorkflowTaskNotFound) }
}

/// The started activity attempt a worker's token refers to, if it still is.
fn started_activity(state: &WorkflowMutableState, token: Option<&TaskToken>) -> Result<i64, CommandError> {
    require_running(state)?;
    let token = token.ok_or(CommandError::ActivityTaskNotFound)?;
    let activity = state.activities.get(&token.scheduled_event_id).ok_or(CommandError::ActivityTaskNotFound)?;
    let started_nanos = activity.started_time.as_ref().map(timestamp_nanos);
    let matches = activity.attempt == token.attempt && started_nanos == Some(token.started_time_nanos);
    if matches { Ok(token.scheduled_event_id) } else { Err(CommandError::ActivityTaskNotFound) }
}

/// Closes the started attempt a worker's token refers to, and lets the
/// workflow react.
fn close_started_activity(
    state: &mut WorkflowMutableState,
    token: Option<&TaskToken>,
    outcome: super::activity::ActivityOutcome,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let scheduled_event_id = started_activity(state, token)?;
    let mut mutation = super::history::RunMutation::new(state, clock);
    mutation.measure_reported_attempt(scheduled_event_id, false);
    mutation.close_activity(scheduled_event_id, outcome);
    mutation.schedule_workflow_task();
    Ok((Reply::Accepted, mutation.finish()))
}
