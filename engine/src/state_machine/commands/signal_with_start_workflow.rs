//! SignalWithStartWorkflowExecution: signals the running run, or starts a new
//! run with the signal as its first event after the start. A retried request
//! (same request id) gets the first outcome and changes nothing.

use temper_proto::api::enums::v1::WorkflowIdConflictPolicy;
use temper_proto::api::workflowservice::v1::{
    SignalWithStartWorkflowExecutionRequest, SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
};
use temper_proto::records::{SignalWithStartWorkflow, WorkflowMutableState};

use super::signal_workflow::already_signaled;
use super::start_workflow::{Resolution, resolve_existing_run};
use crate::state_machine::new_run::{RunSpec, create_run};
use super::{Reply, StartOutcome, is_running};
use crate::state_machine::history::RunMutation;
use crate::state_machine::{Clock, CommandError};

pub fn apply(
    namespace_id: &str,
    current: Option<&mut WorkflowMutableState>,
    command: &SignalWithStartWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    super::refuse_schedule_run(current.as_deref(), "SignalWithStartWorkflow")?;
    let request = command
        .request
        .as_ref()
        .ok_or_else(|| CommandError::InvalidArgument("signal-with-start request is missing".into()))?;
    let start = start_request_of(request);
    let signal = signal_request(request);
    let previous_run = match current {
        Some(current) if already_signaled(current, &request.request_id) => {
            return Ok(StartOutcome { reply: retried(current, &request.request_id), new_run: None, previous_run: None });
        }
        Some(current) if is_running(current) && start.workflow_id_conflict_policy() != WorkflowIdConflictPolicy::TerminateExisting => {
            return Ok(signal_running_run(current, signal, clock));
        }
        Some(current) => match resolve_existing_run(current, &start, clock)? {
            Resolution::Answer(reply) => return Ok(StartOutcome { reply, new_run: None, previous_run: None }),
            Resolution::StartNew(previous) => previous,
        },
        None => None,
    };
    let spec = RunSpec::from_start_request(namespace_id, &start, &command.run_id, command.namespace_retention, clock.now);
    let new_run = create_run(spec, clock, |mutation| mutation.add_signal(signal, None));
    Ok(StartOutcome {
        reply: Reply::Started { run_id: command.run_id.clone(), started: true },
        new_run: Some(new_run),
        previous_run,
    })
}

/// The first outcome of a request this run has seen: it created the run, or
/// signalled it. Temporal answers `started: false` to a retry of the request
/// that created the run (its retry takes the "signal the running run" path
/// and finds the signal there); Temper answers what the first attempt did,
/// as for StartWorkflowExecution. Temporal also dedups only against a
/// running run: a retry arriving after the run closed starts a new run
/// there, here it is answered from the closed run, whose signal it was.
fn retried(current: &WorkflowMutableState, request_id: &str) -> Reply {
    let info = current.info.as_ref().expect("a run always has execution info");
    Reply::Started { run_id: info.run_id.clone(), started: info.create_request_id == request_id }
}

fn signal_running_run(current: &mut WorkflowMutableState, signal: SignalWorkflowExecutionRequest, clock: Clock<'_>) -> StartOutcome {
    let run_id = current.info.as_ref().map(|info| info.run_id.clone()).unwrap_or_default();
    let mut mutation = RunMutation::new(current, clock);
    mutation.add_signal(signal, None);
    // Unlike a plain signal, Temporal's signal-with-start ends a start delay
    // (or retry or cron backoff) the run is still waiting out.
    mutation.info_mut().first_workflow_task_backoff_pending = false;
    mutation.schedule_workflow_task();
    StartOutcome {
        reply: Reply::Started { run_id, started: false },
        new_run: None,
        previous_run: Some(mutation.finish()),
    }
}

/// The start a signal-with-start performs when it creates a run.
pub fn start_request_of(request: &SignalWithStartWorkflowExecutionRequest) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: request.namespace.clone(),
        workflow_id: request.workflow_id.clone(),
        workflow_type: request.workflow_type.clone(),
        task_queue: request.task_queue.clone(),
        input: request.input.clone(),
        workflow_execution_timeout: request.workflow_execution_timeout,
        workflow_run_timeout: request.workflow_run_timeout,
        workflow_task_timeout: request.workflow_task_timeout,
        identity: request.identity.clone(),
        request_id: request.request_id.clone(),
        workflow_id_reuse_policy: request.workflow_id_reuse_policy,
        workflow_id_conflict_policy: request.workflow_id_conflict_policy,
        retry_policy: request.retry_policy.clone(),
        cron_schedule: request.cron_schedule.clone(),
        workflow_start_delay: request.workflow_start_delay,
        memo: request.memo.clone(),
        search_attributes: request.search_attributes.clone(),
        header: request.header.clone(),
        user_metadata: request.user_metadata.clone(),
        priority: request.priority.clone(),
        ..Default::default()
    }
}

fn signal_request(request: &SignalWithStartWorkflowExecutionRequest) -> SignalWorkflowExecutionRequest {
    SignalWorkflowExecutionRequest {
        namespace: request.namespace.clone(),
        signal_name: request.signal_name.clone(),
        input: request.signal_input.clone(),
        identity: request.identity.clone(),
        request_id: request.request_id.clone(),
        header: request.header.clone(),
        ..Default::default()
    }
}
