//! A workflow a schedule started ended: it no longer blocks the next start,
//! its result becomes the next start's last completion result, and a failure
//! may pause the schedule.

use temper_proto::records::{RecordScheduledWorkflowClosed, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordScheduledWorkflowClosed,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    super::require_schedule(state)?;
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.record_scheduled_close(command);
    mutation.advance_schedule();
    Ok((Reply::Accepted, mutation.finish()))
}
