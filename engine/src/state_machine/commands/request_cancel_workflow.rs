//! RequestCancelWorkflowExecution: asks the workflow to cancel itself; its
//! code decides how (it usually cancels its activities and then the run).
//! Asking again, or asking a run that already closed, succeeds and changes
//! nothing, as in Temporal: so a retried request (the cancel may well be
//! why the run closed) gets the first answer.

use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::WorkflowExecutionCancelRequestedEventAttributes;
use temper_proto::records::{Origin, RequestCancelWorkflow, WorkflowMutableState};

use super::{Reply, is_running, origin_execution, require_chain};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RequestCancelWorkflow,
    origin: Option<&Origin>,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let request = command.request.clone().unwrap_or_default();
    require_chain(state, &request.first_execution_run_id)?;
    let info = state.info.as_ref().expect("a run always has execution info");
    if info.cancel_requested || !is_running(state) {
        return Ok((Reply::Accepted, Transition::default()));
    }
    let mut mutation = RunMutation::new(state, clock);
    let info = mutation.info_mut();
    info.cancel_requested = true;
    info.cancel_request_id = request.request_id.clone();
    mutation.add_event(Attributes::from(WorkflowExecutionCancelRequestedEventAttributes {
        cause: request.reason,
        identity: request.identity,
        external_initiated_event_id: origin.map(|o| o.initiated_event_id).unwrap_or_default(),
        external_workflow_execution: origin.map(origin_execution),
    }));
    mutation.schedule_workflow_task();
    Ok((Reply::Accepted, mutation.finish()))
}
