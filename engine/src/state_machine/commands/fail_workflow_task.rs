//! RespondWorkflowTaskFailed: the worker could not run the workflow code
//! (a bug, non-determinism). The task is retried at once as a transient
//! attempt on the normal queue.

use temper_proto::records::{FailWorkflowTask, WorkflowMutableState};

use super::{Reply, started_workflow_task};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    state: &mut WorkflowMutableState,
    command: &FailWorkflowTask,
    clock: Clock<'_>,
) -> Result<(Reply, Transition), CommandError> {
    started_workflow_task(state, command.token.as_ref())?;
    let request = command.request.clone().unwrap_or_default();
    let mut mutation = RunMutation::new(state, clock);
    #[allow(deprecated)]
    let binary_checksum = request.binary_checksum.clone();
    mutation.fail_workflow_task(request.cause(), request.failure, &request.identity, &binary_checksum);
    mutation.schedule_workflow_task();
    Ok((Reply::Accepted, mutation.finish()))
}
