//! PatchSchedule: trigger an action now, backfill a range, pause or unpause.

use temper_proto::api::schedule::v1::SchedulePatch;
use temper_proto::records::{PatchSchedule, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};
use crate::time::{timestamp_from_nanos, timestamp_nanos};

/// Backfill start times are inclusive: Temporal moves them back this much.
const INCLUSIVE_START: i64 = 1_000_000;
/// Backfills waiting at once, at most (Temporal's buffer size).
const MAX_BACKFILLS: usize = 1000;

pub fn apply(state: &mut WorkflowMutableState, command: &PatchSchedule, clock: Clock<'_>) -> Result<(Reply, Transition), CommandError> {
    super::require_schedule(state)?;
    require_running(state).map_err(|_| super::schedule_not_found())?;
    let patch = command.request.as_ref().and_then(|request| request.patch.clone()).unwrap_or_default();
    let mut mutation = RunMutation::new(state, clock);
    apply_patch(&mut mutation, &patch);
    mutation.advance_schedule();
    Ok((Reply::Accepted, mutation.finish()))
}

pub(super) fn apply_patch(mutation: &mut RunMutation, patch: &SchedulePatch) {
    let now = mutation.now();
    if let Some(trigger) = &patch.trigger_immediately {
        let time = trigger.scheduled_time.as_ref().map(timestamp_nanos).unwrap_or(now);
        mutation.add_start(time, time, trigger.overlap_policy(), true);
    }
    for backfill in &patch.backfill_request {
        let schedule = mutation.state.schedule.as_mut().expect("a schedule's run");
        if schedule.ongoing_backfills.len() >= MAX_BACKFILLS {
            schedule.info.get_or_insert_with(Default::default).buffer_dropped += 1;
            continue;
        }
        let mut backfill = *backfill;
        let start = backfill.start_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        backfill.start_time = Some(timestamp_from_nanos(start.saturating_sub(INCLUSIVE_START)));
        schedule.ongoing_backfills.push(backfill);
    }
    let schedule = mutation.state.schedule.as_mut().expect("a schedule's run");
    let state = schedule.schedule.get_or_insert_with(Default::default).state.get_or_insert_with(Default::default);
    if !patch.pause.is_empty() {
        state.paused = true;
        state.notes = patch.pause.clone();
        schedule.conflict_token += 1;
    }
    let state = schedule.schedule.get_or_insert_with(Default::default).state.get_or_insert_with(Default::default);
    if !patch.unpause.is_empty() {
        state.paused = false;
        state.notes = patch.unpause.clone();
        schedule.conflict_token += 1;
    }
}
