//! DeleteWorkflowExecution: a closed run is deleted at once, as when its
//! retention runs out. The gateway terminates a running run first, as
//! Temporal does; a run still running here (it was not the one the gateway
//! terminated) is refused.

use temper_proto::records::{DeleteWorkflow, WorkflowMutableState};

use super::{Reply, expire_run, is_running};
use crate::state_machine::{CommandError, Transition};

pub fn apply(state: &WorkflowMutableState, _command: &DeleteWorkflow) -> Result<(Reply, Transition), CommandError> {
    if is_running(state) {
        return Err(CommandError::InvalidArgument("the workflow execution is running: terminate it before deleting it".into()));
    }
    Ok((Reply::Accepted, expire_run::delete_closed_run(state)))
}
