//! RecordChildWorkflowClosed, on the parent's shard: a child's last run
//! closed. A parent that closed first, or that heard of it already, ignores it.

use temper_proto::records::{RecordChildWorkflowClosed, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordChildWorkflowClosed,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    if mutation.record_child_closed(command) {
        mutation.schedule_workflow_task();
    }
    Ok((Reply::Accepted, mutation.finish()))
}
