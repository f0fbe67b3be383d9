//! A closed run's retention ran out: the run is deleted. Its history gains no
//! event and its timers need no disarming (a closed run arms only this one,
//! which the shard disarms as it fires it).

use temper_proto::records::WorkflowMutableState;

use super::is_running;
use crate::state_machine::history::visibility_record;
use crate::state_machine::{Effect, Transition};
use crate::store::RunKey;

pub fn apply(state: &WorkflowMutableState) -> Transition {
    let Some(info) = state.info.as_ref() else { return Transition::default() };
    if is_running(state) || info.close_time.is_none() {
        return Transition::default();
    }
    let run = RunKey { namespace_id: info.namespace_id.clone(), workflow_id: info.workflow_id.clone(), run_id: info.run_id.clone() };
    Transition {
        effects: vec![Effect::Visibility(deleted_visibility_record(state)), Effect::DeleteRun(run)],
        ..Default::default()
    }
}

/// The run's last summary: it outranks every earlier one, so a projection
/// that sees it removes the run for good.
fn deleted_visibility_record(state: &WorkflowMutableState) -> temper_proto::records::VisibilityRecord {
    temper_proto::records::VisibilityRecord { deleted: true, version: i64::MAX, ..visibility_record(state) }
}
