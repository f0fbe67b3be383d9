//! StartWorkflowExecution: creates a run, unless the workflow id is taken
//! under the request's id reuse and conflict policies. A retried request with
//! the same request id gets the first outcome.

use temper_proto::api::enums::v1::{WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy};
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::records::{ExecutionInfo, StartWorkflow, WorkflowMutableState};

use super::terminate_workflow::terminate;
use super::{Reply, is_running};
use crate::state_machine::new_run::{RunSpec, create_run};
use crate::state_machine::{Clock, CommandError, NewRun, Transition};

/// What a start did: the reply, the new run if one was created, and the
/// change to the previous run if the start terminated it.
#[derive(Debug)]
pub struct StartOutcome {
    pub reply: Reply,
    pub new_run: Option<NewRun>,
    pub previous_run: Option<Transition>,
}

pub fn apply(
    namespace_id: &str,
    current: Option<&mut WorkflowMutableState>,
    command: &StartWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    let request = command.request.as_ref().ok_or_else(|| CommandError::InvalidArgument("start request is missing".into()))?;
    let previous_run = match current {
        None => None,
        Some(current) => match resolve_existing_run(current, request, clock)? {
            Resolution::Answer(reply) => return Ok(StartOutcome { reply, new_run: None, previous_run: None }),
            Resolution::StartNew(previous) => previous,
        },
    };
    let mut spec = RunSpec::from_start_request(namespace_id, request, &command.run_id, command.namespace_retention, clock.now);
    spec.scheduled_by = command.scheduled_by.clone();
    let new_run = create_run(spec, clock, |_| {});
    let reply = match &new_run.eager_task {
        Some(task) => Reply::StartedEagerly { run_id: command.run_id.clone(), task: Box::new(task.clone()) },
        None => Reply::Started { run_id: command.run_id.clone(), started: true },
    };
    Ok(StartOutcome {
        reply,
        new_run: Some(new_run),
        previous_run,
    })
}

pub(super) enum Resolution {
    /// Do not create a run; answer with this.
    Answer(Reply),
    /// Create the run; the previous one changed as described (if at all).
    StartNew(Option<Transition>),
}

/// Applies Temporal's rules for a start whose workflow id already has a run.
pub(super) fn resolve_existing_run(
    current: &mut WorkflowMutableState,
    request: &StartWorkflowExecutionRequest,
    clock: Clock<'_>,
) -> Result<Resolution, CommandError> {
    let info = current.info.as_ref().expect("a run always has execution info");
    if !request.request_id.is_empty() && info.create_request_id == request.request_id {
        return Ok(Resolution::Answer(Reply::Started { run_id: info.run_id.clone(), started: true }));
    }
    if is_running(current) {
        return match conflict_policy(request) {
            WorkflowIdConflictPolicy::UseExisting => {
                Ok(Resolution::Answer(Reply::Started { run_id: info.run_id.clone(), started: false }))
            }
            WorkflowIdConflictPolicy::TerminateExisting => {
                let transition = terminate(current, "terminated by a new start of the same workflow id", None, &request.identity, clock);
                Ok(Resolution::StartNew(Some(transition)))
            }
            _ => Err(already_started(
                "Workflow execution is already running",
                &request.workflow_id,
                info,
            )),
        };
    }
    match reuse_policy(request) {
        WorkflowIdReusePolicy::RejectDuplicate => Err(already_started(
            "Workflow execution already finished and the workflow id reuse policy rejects duplicates",
            &request.workflow_id,
            info,
        )),
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly if info.status == WorkflowExecutionStatus::Completed as i32 => {
            Err(already_started(
                "Workflow execution already finished successfully and the workflow id reuse policy allows a duplicate only after a failure",
                &request.workflow_id,
                info,
            ))
        }
        _ => Ok(Resolution::StartNew(None)),
    }
}

fn conflict_policy(request: &StartWorkflowExecutionRequest) -> WorkflowIdConflictPolicy {
    #[allow(deprecated)]
    if request.workflow_id_reuse_policy() == WorkflowIdReusePolicy::TerminateIfRunning {
        return WorkflowIdConflictPolicy::TerminateExisting;
    }
    request.workflow_id_conflict_policy()
}

fn reuse_policy(request: &StartWorkflowExecutionRequest) -> WorkflowIdReusePolicy {
    request.workflow_id_reuse_policy()
}

fn already_started(reason: &str, workflow_id: &str, info: &ExecutionInfo) -> CommandError {
    CommandError::WorkflowAlreadyStarted {
        message: format!("{reason}. WorkflowId: {workflow_id}, RunId: {}.", info.run_id),
        start_request_id: info.create_request_id.clone(),
        run_id: info.run_id.clone(),
    }
}
