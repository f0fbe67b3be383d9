//! A start a schedule sent was answered: the schedule records the action,
//! and the workflow as running if it counts for the overlap policy.

use temper_proto::records::{RecordScheduledWorkflowStarted, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordScheduledWorkflowStarted,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    super::require_schedule(state)?;
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.record_scheduled_start(command.start_id, &command.started_run_id);
    mutation.advance_schedule();
    Ok((Reply::Accepted, mutation.finish()))
}
