//! UpdateWorkflowExecution, PollWorkflowExecutionUpdate and update-with-start
//! (ExecuteMultiOperation). The engine admits the update; the caller then
//! waits, up to its deadline, for the stage it asked for, by reading the
//! run's state each time the run changes. A caller whose deadline passes
//! first gets the stage reached so far, and the SDKs ask again.

use std::time::Duration;

use temper_engine::notify::RunProgress;
use temper_engine::state_machine::commands::Reply;
use temper_engine::store::RunKey;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowExecutionStatus};
use temper_proto::api::update::v1::{Outcome, UpdateRef};
use temper_proto::api::workflowservice::v1::execute_multi_operation_request::operation::Operation as RequestOperation;
use temper_proto::api::workflowservice::v1::execute_multi_operation_response::{response, Response as OperationResponse};
use temper_proto::api::workflowservice::v1::{
    ExecuteMultiOperationRequest, ExecuteMultiOperationResponse, PollWorkflowExecutionUpdateRequest,
    PollWorkflowExecutionUpdateResponse, StartWorkflowExecutionResponse, UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{StartWorkflow, UpdateStage, UpdateWithStartWorkflow, UpdateWorkflow};
use tokio::time::Instant;

use super::history::wait_for;
use super::start::validate_new_run;
use crate::errors::{ApiError, ApiResult, unexpected};
use crate::gateway::Gateway;
use crate::validation::{request_id_or_new, require_id};

/// Longest a caller waits for its stage in one call, as Temporal's server.
pub const LONG_POLL: Duration = Duration::from_secs(60);

pub async fn update_workflow_execution(
    gateway: &Gateway,
    mut request: UpdateWorkflowExecutionRequest,
    deadline: Instant,
    _forwarded: bool,
) -> ApiResult<UpdateWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    check_update(&mut request)?;
    let workflow_id = request.workflow_execution.as_ref().map(|e| e.workflow_id.clone()).unwrap_or_default();
    let wanted = wanted_stage(request.wait_policy.as_ref().map(|p| p.lifecycle_stage()));
    let update_id = update_id_of(&request);
    let follows_new_runs = request.workflow_execution.as_ref().is_none_or(|execution| execution.run_id.is_empty());
    for _ in 0..MAX_RUNS_FOLLOWED {
        let command = Command::UpdateWorkflow(UpdateWorkflow { request: Some(request.clone()) });
        let run_id = match gateway.bus.run(&namespace.id, &workflow_id, command).await? {
            Reply::UpdateAdmitted { run_id, .. } => run_id,
            other => return Err(unexpected(other)),
        };
        let run = RunKey { namespace_id: namespace.id.clone(), workflow_id: workflow_id.clone(), run_id };
        match wait_for_stage(gateway, &run, &update_id, wanted, deadline).await? {
            Waited::Reached(answer) => return Ok(answer),
            // Temporal's history retries such an update on the new run too.
            Waited::Aborted { continued_as_new: true } if follows_new_runs => continue,
            Waited::Aborted { .. } => return Err(aborted_by_closing()),
        }
    }
    Err(aborted_by_closing())
}

/// How many runs of a chain an update follows when each continues as new
/// before accepting it.
const MAX_RUNS_FOLLOWED: usize = 10;

/// Temporal's error for an update its run closed before accepting.
fn aborted_by_closing() -> ApiError {
    ApiError::NotFound("workflow update was aborted by closing workflow".into())
}

/// Where waiting for an update's stage ended.
enum Waited {
    Reached(UpdateWorkflowExecutionResponse),
    /// The run closed before accepting the update.
    Aborted { continued_as_new: bool },
}

impl Waited {
    /// The answer, or Temporal's error for an update its run aborted (a
    /// caller that cannot send it on to the new run).
    fn answer(self) -> ApiResult<UpdateWorkflowExecutionResponse> {
        match self {
            Waited::Reached(answer) => Ok(answer),
            Waited::Aborted { .. } => Err(aborted_by_closing()),
        }
    }
}

pub async fn poll_workflow_execution_update(
    gateway: &Gateway,
    request: PollWorkflowExecutionUpdateRequest,
    deadline: Instant,
    _forwarded: bool,
) -> ApiResult<PollWorkflowExecutionUpdateResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let update_ref = request.update_ref.clone().ok_or_else(|| ApiError::invalid("UpdateRef is not set on request."))?;
    require_id(&update_ref.update_id, "UpdateId")?;
    let run = gateway.resolve_run(&namespace.id, update_ref.workflow_execution.as_ref()).await?;
    let wanted = wanted_stage(request.wait_policy.as_ref().map(|p| p.lifecycle_stage()));
    let answer = wait_for_stage(gateway, &run, &update_ref.update_id, wanted, deadline).await?.answer()?;
    Ok(PollWorkflowExecutionUpdateResponse { outcome: answer.outcome, stage: answer.stage, update_ref: answer.update_ref })
}

/// Update-with-start: a start (or the running run its conflict policy keeps)
/// and an update, applied by the engine as one command.
pub async fn execute_multi_operation(
    gateway: &Gateway,
    request: ExecuteMultiOperationRequest,
    deadline: Instant,
    _forwarded: bool,
) -> ApiResult<ExecuteMultiOperationResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (mut start, mut update) = start_and_update(request)?;
    validate_new_run(&start)?;
    check_update(&mut update)?;
    if update.workflow_execution.as_ref().is_none_or(|e| e.workflow_id != start.workflow_id) {
        return Err(ApiError::invalid("The update of an update-with-start must name the workflow id of its start."));
    }
    start.request_id = request_id_or_new(&start.request_id);
    // The update rides with the first task; an eager task would bypass it.
    start.request_eager_execution = false;
    let workflow_id = start.workflow_id.clone();
    let wanted = wanted_stage(update.wait_policy.as_ref().map(|p| p.lifecycle_stage()));
    let update_id = update_id_of(&update);
    let command = Command::UpdateWithStartWorkflow(UpdateWithStartWorkflow {
        start: Some(StartWorkflow {
            request: Some(start),
            run_id: uuid::Uuid::new_v4().to_string(),
            namespace_retention: namespace.retention,
            scheduled_by: None,
        }),
        update: Some(update),
    });
    let (run_id, started) = match gateway.bus.run(&namespace.id, &workflow_id, command).await? {
        Reply::UpdateAdmitted { run_id, started } => (run_id, started),
        other => return Err(unexpected(other)),
    };
    let run = RunKey { namespace_id: namespace.id, workflow_id, run_id: run_id.clone() };
    let updated = wait_for_stage(gateway, &run, &update_id, wanted, deadline).await?.answer()?;
    let started = StartWorkflowExecutionResponse {
        run_id,
        started,
        status: WorkflowExecutionStatus::Running as i32,
        ..Default::default()
    };
    Ok(ExecuteMultiOperationResponse {
        responses: vec![
            OperationResponse { response: Some(response::Response::StartWorkflow(started)) },
            OperationResponse { response: Some(response::Response::UpdateWorkflow(updated)) },
        ],
    })
}

fn start_and_update(
    request: ExecuteMultiOperationRequest,
) -> ApiResult<(temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest, UpdateWorkflowExecutionRequest)> {
    let mut operations = request.operations.into_iter().map(|operation| operation.operation);
    match (operations.next().flatten(), operations.next().flatten(), operations.next()) {
        (Some(RequestOperation::StartWorkflow(start)), Some(RequestOperation::UpdateWorkflow(update)), None) => {
            Ok((start, update))
        }
        _ => Err(ApiError::invalid(
            "ExecuteMultiOperation supports exactly two operations: a StartWorkflow followed by an UpdateWorkflow.",
        )),
    }
}

/// Refuses an update request missing what it needs, in Temporal's words, and
/// gives one without an update id a new one, as Temporal does (the Web UI
/// sends none unless the user types one).
fn check_update(request: &mut UpdateWorkflowExecutionRequest) -> ApiResult<()> {
    let execution = request.workflow_execution.as_ref().ok_or_else(|| ApiError::invalid("WorkflowExecution is not set on request."))?;
    require_id(&execution.workflow_id, "WorkflowId")?;
    let update = request.request.as_mut().ok_or_else(|| ApiError::invalid("Update meta is not set on request."))?;
    let meta = update.meta.as_mut().ok_or_else(|| ApiError::invalid("Update meta is not set on request."))?;
    require_id(update.input.as_ref().map(|i| i.name.as_str()).unwrap_or_default(), "Update name")?;
    if meta.update_id.is_empty() {
        meta.update_id = uuid::Uuid::new_v4().to_string();
    }
    Ok(())
}

fn update_id_of(request: &UpdateWorkflowExecutionRequest) -> String {
    request.request.as_ref().and_then(|r| r.meta.as_ref()).map(|m| m.update_id.clone()).unwrap_or_default()
}

/// The stage a caller waits for; Temporal waits for acceptance when none is named.
fn wanted_stage(stage: Option<Stage>) -> Stage {
    match stage {
        None | Some(Stage::Unspecified) => Stage::Accepted,
        Some(stage) => stage,
    }
}

fn api_stage(stage: UpdateStage) -> Stage {
    match stage {
        UpdateStage::Admitted | UpdateStage::Unspecified => Stage::Admitted,
        UpdateStage::Accepted => Stage::Accepted,
        UpdateStage::Completed | UpdateStage::Aborted => Stage::Completed,
    }
}

/// Waits until the update reaches `wanted` (or completes, or its run
/// aborts it) or the deadline passes, and answers with where it stands.
async fn wait_for_stage(gateway: &Gateway, run: &RunKey, update_id: &str, wanted: Stage, deadline: Instant) -> ApiResult<Waited> {
    let mut changes = gateway.notifier.subscribe(run);
    loop {
        let state = gateway.load_state(run).await?;
        let update = state
            .updates
            .get(update_id)
            .ok_or_else(|| ApiError::NotFound(format!("update {update_id:?} not found in workflow {}", run.workflow_id)))?;
        if update.stage() == UpdateStage::Aborted {
            let status = state.info.as_ref().map(|info| info.status()).unwrap_or_default();
            return Ok(Waited::Aborted { continued_as_new: status == WorkflowExecutionStatus::ContinuedAsNew });
        }
        let stage = api_stage(update.stage());
        if stage as i32 >= wanted as i32 || Instant::now() >= deadline {
            return Ok(Waited::Reached(answer(run, update_id, stage, update.outcome.clone())));
        }
        // Until the run changes (an update's progress may write no event).
        let before = RunProgress::of(&state);
        wait_for(gateway, run, &mut changes, before, deadline, |progress| progress.further(before) != before).await;
    }
}

fn answer(run: &RunKey, update_id: &str, stage: Stage, outcome: Option<Outcome>) -> UpdateWorkflowExecutionResponse {
    UpdateWorkflowExecutionResponse {
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() }),
            update_id: update_id.to_string(),
        }),
        outcome: if stage == Stage::Completed { outcome } else { None },
        stage: stage as i32,
        link: None,
    }
}
