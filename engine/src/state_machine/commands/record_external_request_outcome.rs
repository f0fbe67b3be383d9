//! RecordExternalRequestOutcome, on the sender's shard: a signal or cancel
//! request this workflow sent arrived, or found no workflow to go to.

use temper_proto::api::enums::v1::SignalExternalWorkflowExecutionFailedCause;
use temper_proto::records::{RecordExternalRequestOutcome, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordExternalRequestOutcome,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let failure = match command.failure_cause() {
        SignalExternalWorkflowExecutionFailedCause::Unspecified => None,
        cause => Some(cause),
    };
    let mut mutation = RunMutation::new(state, clock);
    if mutation.record_external_outcome(command.initiated_event_id, failure) {
        mutation.schedule_workflow_task();
    }
    Ok((Reply::Accepted, mutation.finish()))
}
