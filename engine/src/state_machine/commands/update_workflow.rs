//! UpdateWorkflowExecution: admits an update to a run. A retried request
//! (same update id) changes nothing; the gateway then waits for the stage the
//! caller asked for by reading the run's state.

use temper_proto::records::{UpdateWorkflow, WorkflowMutableState};

use super::{Reply, require_chain, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(state: &mut WorkflowMutableState, command: &UpdateWorkflow, clock: Clock<'_>) -> Result<(Reply, Transition), CommandError> {
    let request = command.request.clone().unwrap_or_default();
    require_chain(state, &request.first_execution_run_id)?;
    let transition = admit(state, request.request.unwrap_or_default(), clock)?;
    let run_id = state.info.as_ref().map(|info| info.run_id.clone()).unwrap_or_default();
    Ok((Reply::UpdateAdmitted { run_id, started: false }, transition))
}

/// Admits the update to the run; shared with update-with-start.
pub(super) fn admit(
    state: &mut WorkflowMutableState,
    request: temper_proto::api::update::v1::Request,
    clock: Clock<'_>,
) -> Result<Transition, CommandError> {
    let update_id = request.meta.as_ref().map(|meta| meta.update_id.as_str()).unwrap_or_default();
    if state.updates.contains_key(update_id) {
        return Ok(Transition::default());
    }
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.admit_update(request);
    Ok(mutation.finish())
}
