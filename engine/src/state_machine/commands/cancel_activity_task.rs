//! RespondActivityTaskCanceled: the worker stopped the attempt because the
//! workflow asked to cancel the activity.

use temper_proto::records::{CancelActivityTask, WorkflowMutableState};

use super::{Reply, close_started_activity};
use crate::state_machine::activity::ActivityOutcome;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &CancelActivityTask,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let outcome = ActivityOutcome::Canceled { details: command.details.clone(), identity: command.identity.clone() };
    close_started_activity(state, command.token.as_ref(), outcome, clock)
}
