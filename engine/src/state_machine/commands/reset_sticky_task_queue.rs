//! ResetStickyTaskQueue: the sticky worker went away; later workflow tasks go
//! to the normal queue with full history, and so does one already waiting on
//! the sticky queue (nobody will poll that queue again, and without a sticky
//! timeout nothing would ever move the task).

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
    mutation.move_waiting_workflow_task_to_normal_queue();
    Ok((Reply::Accepted, mutation.finish()))
}

impl RunMutation<'_> {
    /// Re-dispatches a workflow task scheduled on the sticky queue but not
    /// started to the normal queue. Both dispatches name the same scheduled
    /// event, so only one of them can start it.
    fn move_waiting_workflow_task_to_normal_queue(&mut self) {
        let normal_queue = self.info().task_queue.clone();
        let Some(wft) = self.state.workflow_task.as_mut().filter(|wft| wft.sticky && wft.started_event_id == 0) else { return };
        wft.sticky = false;
        wft.task_queue = normal_queue;
        self.dispatch_workflow_task();
    }

    pub(crate) fn clear_sticky_task_queue(&mut self) {
        let info = self.info_mut();
        info.sticky_task_queue.clear();
        info.sticky_schedule_to_start_timeout = None;
    }
}
