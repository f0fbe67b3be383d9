//! ResetWorkflowExecution: a new run from a prefix of a run's history (see
//! the engine's reset command). The CLI's `--type FirstWorkflowTask` and
//! `LastWorkflowTask` pick the event id from the history before calling this.

use temper_engine::state_machine::commands::Reply;
use temper_proto::api::workflowservice::v1::{ResetWorkflowExecutionRequest, ResetWorkflowExecutionResponse};
use temper_proto::records::ResetWorkflow;
use temper_proto::records::command_record::Command;

use crate::errors::{ApiError, ApiResult, unexpected};
use crate::gateway::Gateway;
use crate::validation::request_id_or_new;

pub async fn reset_workflow_execution(
    gateway: &Gateway,
    mut request: ResetWorkflowExecutionRequest,
) -> ApiResult<ResetWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    if request.workflow_task_finish_event_id <= 0 {
        return Err(ApiError::invalid("WorkflowTaskFinishEventId must be the id of a workflow task's completed, failed, timed-out or started event."));
    }
    let base = gateway.resolve_run(&namespace.id, request.workflow_execution.as_ref()).await?;
    request.request_id = request_id_or_new(&request.request_id);
    let command = Command::ResetWorkflow(ResetWorkflow {
        request: Some(request),
        base_run_id: base.run_id.clone(),
        new_run_id: uuid::Uuid::new_v4().to_string(),
    });
    match gateway.bus.run(&namespace.id, &base.workflow_id, command).await? {
        Reply::Started { run_id, .. } => Ok(ResetWorkflowExecutionResponse { run_id }),
        other => Err(unexpected(other)),
    }
}
