//! RecordChildWorkflowStarted, on the parent's shard: the child started (or
//! could not be). News the parent already has changes nothing.

use temper_proto::api::enums::v1::StartChildWorkflowExecutionFailedCause;
use temper_proto::records::{RecordChildWorkflowStarted, WorkflowMutableState};

use super::{Reply, require_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &RecordChildWorkflowStarted,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    require_running(state)?;
    let mut mutation = RunMutation::new(state, clock);
    let news = if command.child_run_id.is_empty() {
        let cause = match command.failure_cause() {
            StartChildWorkflowExecutionFailedCause::Unspecified => StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
            cause => cause,
        };
        mutation.record_child_start_failed(command.initiated_event_id, cause)
    } else {
        mutation.record_child_started(command.initiated_event_id, &command.child_run_id, command.header.clone())
    };
    if news {
        mutation.schedule_workflow_task();
    }
    Ok((Reply::Accepted, mutation.finish()))
}
