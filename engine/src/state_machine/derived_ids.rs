//! Ids the state machine derives instead of drawing at random: name-based
//! (v5) UUIDs of what they belong to. The machine stays deterministic, a
//! replay derives the same ids, and a command sent twice (an outbox record
//! published again after a crash) carries the same id both times, so its
//! receiver applies it once.

use uuid::Uuid;

const NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_2c3a_8b4e_4f0a_9e57_31c2_d8a4_b6f1);

fn derived(name: &str) -> String {
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// The run that follows `run_id` in its chain: a run closes once, so it has
/// one successor at most.
pub(super) fn successor_run_id(run_id: &str) -> String {
    derived(run_id)
}

/// The first run of the child that run `run_id` initiated at `initiated_event_id`.
pub(super) fn child_run_id(run_id: &str, initiated_event_id: i64) -> String {
    derived(&format!("{run_id}/child/{initiated_event_id}"))
}

/// The request id of a signal, cancel request or child start that run
/// `run_id` initiated at `initiated_event_id`.
pub(super) fn request_id(run_id: &str, initiated_event_id: i64) -> String {
    derived(&format!("{run_id}/request/{initiated_event_id}"))
}

/// The run a schedule's run `run_id` starts with its start `start_id`.
pub(super) fn scheduled_run_id(run_id: &str, start_id: i64) -> String {
    derived(&format!("{run_id}/scheduled/{start_id}"))
}

/// The request id of that start.
pub(super) fn scheduled_request_id(run_id: &str, start_id: i64) -> String {
    derived(&format!("{run_id}/scheduled-request/{start_id}"))
}
