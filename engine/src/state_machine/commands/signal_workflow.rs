//! SignalWorkflowExecution: delivers a signal to a running run; a retried
//! request with the same request id is applied once, and answered as the
//! first attempt was even if the run closed in between.

use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::WorkflowExecutionSignaledEventAttributes;
use temper_proto::api::workflowservice::v1::SignalWorkflowExecutionRequest;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::records::{Origin, SignalWorkflow, WorkflowMutableState};

use super::{Reply, origin_execution, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &SignalWorkflow,
    origin: Option<&Origin>,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let request = command.request.clone().unwrap_or_default();
    if already_signaled(state, &request.request_id) {
        return Ok((Reply::Accepted, Transition::default()));
    }
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.add_signal(request, origin.map(origin_execution));
    mutation.schedule_workflow_task();
    Ok((Reply::Accepted, mutation.finish()))
}

/// Whether a request with this id already signalled the run. The ids are kept
/// for the run's life: `signal_request_ids` grows with every signal, to be
/// bounded by the per-workflow signal limit (issue 6, bounded growth).
pub(super) fn already_signaled(state: &WorkflowMutableState, request_id: &str) -> bool {
    !request_id.is_empty() && state.signal_request_ids.iter().any(|id| id == request_id)
}

impl RunMutation<'_> {
    /// Records a signal, from a client or from the workflow `external`;
    /// shared with signal-with-start.
    pub(super) fn add_signal(&mut self, request: SignalWorkflowExecutionRequest, external: Option<WorkflowExecution>) {
        if !request.request_id.is_empty() {
            self.state.signal_request_ids.push(request.request_id.clone());
        }
        self.add_event(Attributes::from(WorkflowExecutionSignaledEventAttributes {
            signal_name: request.signal_name,
            input: request.input,
            identity: request.identity,
            header: request.header,
            request_id: request.request_id,
            external_workflow_execution: external,
            ..Default::default()
        }));
    }
}
