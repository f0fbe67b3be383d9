//! StartChildWorkflow, on the child's shard: a parent's start of a child.
//! Applied like a start whose conflict policy is to fail: a running run of
//! the workflow id means WORKFLOW_ALREADY_EXISTS for the parent. A duplicate
//! (the parent's outbox published it again) carries the same request id and
//! gets the first outcome.

use temper_proto::records::StartChildWorkflow;
use temper_proto::records::WorkflowMutableState;

use super::Reply;
use super::start_workflow::{Resolution, StartOutcome, resolve_existing_run};
use crate::state_machine::new_run::{RunSpec, create_run};
use crate::state_machine::{Clock, CommandError};

pub fn apply(
    namespace_id: &str,
    current: Option<&mut WorkflowMutableState>,
    command: &StartChildWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    let request = command.request.as_ref().ok_or_else(|| CommandError::InvalidArgument("child start request is missing".into()))?;
    let previous_run = match current {
        None => None,
        Some(current) => match resolve_existing_run(current, request, clock)? {
            Resolution::Answer(reply) => return Ok(StartOutcome { reply, new_run: None, previous_run: None }),
            Resolution::StartNew(previous) => previous,
        },
    };
    let mut spec = RunSpec::from_start_request(namespace_id, request, &command.run_id, command.namespace_retention, clock.now);
    spec.parent = command.parent.clone();
    // A client's start has both timeouts filled in by Temporal's frontend; a
    // parent's start shows just what it carries.
    spec.show_execution_timeout = request.workflow_execution_timeout.is_some();
    spec.show_run_timeout = request.workflow_run_timeout.is_some();
    // Temporal creates a child's run first and schedules its first workflow
    // task in a second step, once the parent recorded the start: its state
    // transition count starts one higher than a client-started run's.
    let new_run = create_run(spec, clock, |mutation| mutation.info_mut().state_transition_count += 1);
    Ok(StartOutcome { reply: Reply::Started { run_id: command.run_id.clone(), started: true }, new_run: Some(new_run), previous_run })
}
