//! Closing a run.

use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::history::v1::history_event::Attributes;

use super::history::RunMutation;
use super::{Effect, Measurement};
use super::successor::{Successor, set_new_execution_run_id};
use crate::time::timestamp_from_nanos;

impl RunMutation<'_> {
    /// Closes the run with its closing event and, if it has one, starts the
    /// run that follows it, to which the closing event then points.
    pub(super) fn close_run_with(
        &mut self,
        mut closing_event: Attributes,
        status: WorkflowExecutionStatus,
        successor: Option<Successor>,
    ) -> i64 {
        if successor.is_some() {
            set_new_execution_run_id(&mut closing_event, self.successor_run_id());
        }
        let event_id = self.add_event(closing_event);
        if let Some(successor) = successor {
            self.start_successor(successor);
        }
        self.close_run(status, event_id);
        event_id
    }

    /// Marks the run closed by the event `closing_event_id`. What was pending
    /// is dropped, and with it every armed timer; workers holding its tasks
    /// are told the workflow completed; children and parent are told.
    pub(super) fn close_run(&mut self, status: WorkflowExecutionStatus, closing_event_id: i64) {
        let now = self.now();
        let info = self.info_mut();
        info.status = status as i32;
        let closed = Measurement::WorkflowClosed {
            namespace_id: info.namespace_id.clone(),
            workflow_type: info.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            status,
        };
        info.close_time = Some(timestamp_from_nanos(now));
        info.completion_event_id = closing_event_id;
        self.state.workflow_task = None;
        self.end_unfinished_updates();
        self.tell_related_workflows_of_close(closing_event_id);
        self.state.activities.clear();
        for timer in std::mem::take(&mut self.state.timers).into_values() {
            self.disarm_user_timer(&timer);
        }
        self.mark_visibility_changed();
        self.effect(Effect::Measure(closed));
    }
}
