//! RespondActivityTaskFailed: the current attempt failed; the retry policy
//! decides between another attempt after a backoff and failing the activity.

use temper_proto::records::{FailActivityTask, WorkflowMutableState};

use super::{Reply, started_activity};
use crate::state_machine::activity::ActivityOutcome;
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &FailActivityTask,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let scheduled_event_id = started_activity(state, command.token.as_ref())?;
    let request = command.request.clone().unwrap_or_default();
    let mut mutation = RunMutation::new(state, clock);
    mutation.measure_reported_attempt(scheduled_event_id, true);
    if request.last_heartbeat_details.is_some() {
        let activity = mutation.state.activities.get_mut(&scheduled_event_id).expect("validated above");
        activity.heartbeat_details = request.last_heartbeat_details.clone();
    }
    let failure = request.failure.unwrap_or_default();
    let identity = request.identity;
    let retried = mutation.fail_activity_attempt(scheduled_event_id, failure, |failure, retry_state| {
        ActivityOutcome::Failed { failure, identity, retry_state }
    });
    if !retried {
        mutation.schedule_workflow_task();
    }
    Ok((Reply::Accepted, mutation.finish()))
}
