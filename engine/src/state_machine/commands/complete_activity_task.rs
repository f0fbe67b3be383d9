//! RespondActivityTaskCompleted: the current attempt succeeded.

use temper_proto::records::{CompleteActivityTask, WorkflowMutableState};

use super::{Reply, started_activity};
use crate::state_machine::activity::ActivityOutcome;
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &CompleteActivityTask,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let scheduled_event_id = started_activity(state, command.token.as_ref())?;
    let mut mutation = RunMutation::new(state, clock);
    mutation.close_activity(
        scheduled_event_id,
        ActivityOutcome::Completed { result: command.result.clone(), identity: command.identity.clone() },
    );
    mutation.schedule_workflow_task();
    Ok((Reply::Accepted, mutation.finish()))
}
