//! RecordWorkflowTaskStarted: matching hands a scheduled workflow task to a
//! poller. The same poll asking again gets the same answer; any other poll
//! learns the task is taken.

use temper_proto::records::{RecordWorkflowTaskStarted, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::task_lookup::scheduled_workflow_task;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordWorkflowTaskStarted,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let wft = scheduled_workflow_task(state, command.scheduled_event_id).cloned().ok_or(CommandError::WorkflowTaskNotFound)?;
    if wft.started_event_id != 0 {
        if wft.request_id == command.request_id {
            let mutation = RunMutation::new(state, clock);
            let started = mutation.started_info(&wft, mutation.transient_events_of(&wft));
            return Ok((Reply::WorkflowTaskStarted(started), Transition::default()));
        }
        return Err(CommandError::TaskAlreadyStarted);
    }
    let mut mutation = RunMutation::new(state, clock);
    let started = mutation.start_workflow_task(&command.request_id, &command.identity);
    Ok((Reply::WorkflowTaskStarted(started), mutation.finish()))
}
