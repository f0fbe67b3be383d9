//! RespondActivityTaskCompleted: the current attempt succeeded.

use temper_proto::records::{CompleteActivityTask, WorkflowMutableState};

use super::{Reply, close_started_activity};
use crate::state_machine::activity::ActivityOutcome;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &CompleteActivityTask,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let outcome = ActivityOutcome::Completed { result: command.result.clone(), identity: command.identity.clone() };
    close_started_activity(state, command.token.as_ref(), outcome, clock)
}
