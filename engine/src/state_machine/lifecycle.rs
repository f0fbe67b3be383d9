//! Closing a run.

use temper_proto::api::enums::v1::WorkflowExecutionStatus;

use super::history::RunMutation;
use crate::time::timestamp_from_nanos;

impl RunMutation<'_> {
    /// Marks the run closed by the event `closing_event_id`. What was pending
    /// is dropped, and with it every armed timer; workers holding its tasks
    /// are told the workflow completed.
    pub(super) fn close_run(&mut self, status: WorkflowExecutionStatus, closing_event_id: i64) {
        let now = self.now();
        let info = self.info_mut();
        info.status = status as i32;
        info.close_time = Some(timestamp_from_nanos(now));
        info.completion_event_id = closing_event_id;
        self.state.workflow_task = None;
        self.state.activities.clear();
        for timer in std::mem::take(&mut self.state.timers).into_values() {
            self.disarm_user_timer(&timer);
        }
        self.mark_visibility_changed();
    }
}
