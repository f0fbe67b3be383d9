//! UpdateSchedule: replaces the spec, action, policies and state, when the
//! caller saw the schedule as it is (or sent no conflict token). Times
//! before the update are not acted on.

use temper_proto::records::{UpdateSchedule, WorkflowMutableState};

use super::create_schedule::canonical_schedule;
use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};
use crate::time::timestamp_from_nanos;

/// Search attributes the server keeps on a schedule's run, whatever an
/// update sets.
const KEPT_ATTRIBUTES: [&str; 2] = ["TemporalNamespaceDivision", "TemporalSchedulePaused"];

pub fn apply(state: &mut WorkflowMutableState, command: &UpdateSchedule, clock: Clock<'_>) -> Result<(Reply, Transition), CommandError> {
    super::require_schedule(state)?;
    require_running(state).map_err(|_| super::schedule_not_found())?;
    let request = command.request.as_ref().ok_or_else(|| CommandError::InvalidArgument("update request is missing".into()))?;
    let schedule_state = state.schedule.as_ref().expect("checked above");
    if let Some(token) = conflict_token(&request.conflict_token)
        && token != 0
        && token != schedule_state.conflict_token
    {
        return Err(CommandError::FailedPrecondition("mismatched conflict token".into()));
    }
    let schedule = canonical_schedule(request.schedule.clone().unwrap_or_default())?;
    let mut mutation = RunMutation::new(state, clock);
    let now = mutation.now();
    let kept = mutation.state.schedule.as_mut().expect("checked above");
    kept.schedule = Some(schedule);
    kept.conflict_token += 1;
    kept.info.get_or_insert_with(Default::default).update_time = Some(timestamp_from_nanos(now));
    if command.namespace_retention.is_some() {
        kept.namespace_retention = command.namespace_retention;
    }
    if let Some(attributes) = &request.search_attributes {
        let current = mutation.info_mut().search_attributes.get_or_insert_with(Default::default);
        current.indexed_fields.retain(|name, _| KEPT_ATTRIBUTES.contains(&name.as_str()));
        current.indexed_fields.extend(attributes.indexed_fields.clone());
    }
    if let Some(memo) = &request.memo {
        mutation.info_mut().memo = Some(memo.clone());
    }
    mutation.advance_schedule();
    Ok((Reply::Accepted, mutation.finish()))
}

/// The token as Temporal encodes it: eight bytes, big-endian; shorter means none.
fn conflict_token(bytes: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(i64::from_be_bytes(bytes))
}
