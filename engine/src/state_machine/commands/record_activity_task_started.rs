//! RecordActivityTaskStarted: matching hands an activity attempt to a poller.
//! The same poll asking again gets the same answer; any other poll learns the
//! task is taken.

use temper_proto::records::{RecordActivityTaskStarted, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::activity::started_info;
use crate::state_machine::history::RunMutation;
use crate::state_machine::task_lookup::scheduled_activity_attempt;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordActivityTaskStarted,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let activity =
        scheduled_activity_attempt(state, command.scheduled_event_id, command.attempt).ok_or(CommandError::ActivityTaskNotFound)?;
    if activity.started_time.is_some() {
        if activity.started_request_id == command.request_id {
            let workflow_type = state.info.as_ref().and_then(|info| info.workflow_type.clone());
            return Ok((Reply::ActivityTaskStarted(started_info(activity, workflow_type)), Transition::default()));
        }
        return Err(CommandError::TaskAlreadyStarted);
    }
    let mut mutation = RunMutation::new(state, clock);
    let started = mutation.start_activity(command.scheduled_event_id, &command.request_id, &command.identity);
    Ok((Reply::ActivityTaskStarted(started), mutation.finish()))
}
