//! TerminateWorkflowExecution: closes a run at once, without the workflow's
//! code getting a say.

use temper_proto::api::common::v1::Payloads;
use temper_proto::api::enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::WorkflowExecutionTerminatedEventAttributes;
use temper_proto::records::{TerminateWorkflow, WorkflowMutableState};

use super::{Reply, require_chain, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

/// Identity Temporal records for changes the server makes on its own.
pub const SERVER_IDENTITY: &str = "history-service";

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &TerminateWorkflow,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let request = command.request.clone().unwrap_or_default();
    require_chain(state, &request.first_execution_run_id)?;
    let transition = terminate(state, &request.reason, request.details, &request.identity, clock);
    Ok((Reply::Accepted, transition))
}

/// Terminates a running run; shared with starts that replace a running run.
pub(super) fn terminate(
    state: &mut WorkflowMutableState,
    reason: &str,
    details: Option<Payloads>,
    identity: &str,
    clock: Clock<'_>,
) -> Transition {
    let mut mutation = RunMutation::new(state, clock);
    mutation.terminate_run(reason, details, identity);
    mutation.finish()
}

impl RunMutation<'_> {
    pub(crate) fn terminate_run(&mut self, reason: &str, details: Option<Payloads>, identity: &str) {
        self.force_close_workflow_task();
        let event_id = self.add_event(Attributes::from(WorkflowExecutionTerminatedEventAttributes {
            reason: reason.to_string(),
            details,
            identity: identity.to_string(),
        }));
        self.close_run(WorkflowExecutionStatus::Terminated, event_id);
    }

    /// Before the server closes a run itself, a running workflow task is
    /// failed and events held back for it are written, so nothing lands after
    /// the closing event.
    pub(crate) fn force_close_workflow_task(&mut self) {
        if self.workflow_task_is_running() {
            self.fail_workflow_task(WorkflowTaskFailedCause::ForceCloseCommand, None, SERVER_IDENTITY, "");
        }
        self.flush_buffered_events();
    }
}
