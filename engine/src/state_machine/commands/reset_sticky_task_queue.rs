//! ResetStickyTaskQueue: the sticky worker went away; later workflow tasks go
//! to the normal queue with full history.

use temper_proto::records::{ResetStickyTaskQueue, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    _command: &ResetStickyTaskQueue,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.clear_sticky_task_queue();
    Ok((Reply::Accepted, mutation.finish()))
}

impl RunMutation<'_> {
    pub(crate) fn clear_sticky_task_queue(&mut self) {
        let info = self.info_mut();
        info.sticky_task_queue.clear();
        info.sticky_schedule_to_start_timeout = None;
    }
}
