//! RecordActivityTaskHeartbeat: the attempt is alive; its details are kept for
//! the next attempt, and the reply tells the worker whether the workflow asked
//! to cancel the activity.

use temper_proto::records::{RecordActivityTaskHeartbeat, WorkflowMutableState};

use super::{Reply, started_activity};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};
use crate::time::timestamp_from_nanos;

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordActivityTaskHeartbeat,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    let scheduled_event_id = started_activity(state, command.token.as_ref())?;
    let mut mutation = RunMutation::new(state, clock);
    // A heartbeat changes the run's state without an event: Temporal counts
    // it as a state transition all the same.
    mutation.touch();
    let now = mutation.now();
    let activity = mutation.state.activities.get_mut(&scheduled_event_id).expect("validated above");
    activity.last_heartbeat_time = Some(timestamp_from_nanos(now));
    if command.details.is_some() {
        activity.heartbeat_details = command.details.clone();
    }
    activity.last_worker_identity = command.identity.clone();
    let cancel_requested = activity.cancel_requested;
    Ok((Reply::Heartbeat { cancel_requested }, mutation.finish()))
}
