//! DeleteSchedule: ends the schedule's run, as Temporal terminates its
//! scheduler workflow. Workflows it started keep running.

use temper_proto::records::{DeleteSchedule, WorkflowMutableState};

use super::terminate_workflow::terminate;
use super::{Reply, require_running};
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(state: &mut WorkflowMutableState, command: &DeleteSchedule, clock: Clock<'_>) -> Result<(Reply, Transition), CommandError> {
    super::require_schedule(state)?;
    require_running(state).map_err(|_| super::schedule_not_found())?;
    let identity = command.request.as_ref().map(|request| request.identity.clone()).unwrap_or_default();
    let transition = terminate(state, "terminated by DeleteSchedule", None, &identity, clock);
    Ok((Reply::Accepted, transition))
}
