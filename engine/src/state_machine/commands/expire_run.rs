//! A closed run's retention ran out: the run is deleted. Its history gains no
//! event and its timers need no disarming (a closed run arms only this one,
//! which the shard disarms as it fires it).

use temper_proto::records::WorkflowMutableState;

use super::is_running;
use crate::state_machine::history::visibility_record;
use crate::state_machine::{Effect, Transition};
use crate::store::RunKey;

pub fn apply(state: &WorkflowMutableState) -> Transition {
    if is_running(state) {
        return Transition::default();
    }
    delete_closed_run(state)
}

/// Deletes a closed run (shared with DeleteWorkflowExecution): its state and
/// history go, and its last summary takes it out of lists.
pub(super) fn delete_closed_run(state: &WorkflowMutableState) -> Transition {
    let Some(info) = state.info.as_ref().filter(|info| info.close_time.is_some()) else { return Transition::default() };
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
