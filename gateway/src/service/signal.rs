//! SignalWorkflowExecution, RequestCancelWorkflowExecution, TerminateWorkflowExecution:
//! writes to a running workflow that come from outside it.

use temper_proto::api::workflowservice::v1::{
    RequestCancelWorkflowExecutionRequest, RequestCancelWorkflowExecutionResponse, SignalWorkflowExecutionRequest,
    SignalWorkflowExecutionResponse, TerminateWorkflowExecutionRequest, TerminateWorkflowExecutionResponse,
};
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::records::command_record::Command;
use temper_proto::records::{RequestCancelWorkflow, SignalWorkflow, TerminateWorkflow};

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::validation::{optional_run_id, request_id_or_new, require_id};

pub async fn signal_workflow_execution(
    gateway: &Gateway,
    mut request: SignalWorkflowExecutionRequest,
) -> ApiResult<SignalWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = target_workflow(request.workflow_execution.as_ref())?;
    require_id(&request.signal_name, "SignalName")?;
    request.request_id = request_id_or_new(&request.request_id);
    gateway.bus.run(&namespace.id, &workflow_id, Command::SignalWorkflow(SignalWorkflow { request: Some(request) })).await?;
    Ok(SignalWorkflowExecutionResponse::default())
}

pub async fn request_cancel_workflow_execution(
    gateway: &Gateway,
    mut request: RequestCancelWorkflowExecutionRequest,
) -> ApiResult<RequestCancelWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = target_workflow(request.workflow_execution.as_ref())?;
    request.request_id = request_id_or_new(&request.request_id);
    let command = Command::RequestCancelWorkflow(RequestCancelWorkflow { request: Some(request) });
    gateway.bus.run(&namespace.id, &workflow_id, command).await?;
    Ok(RequestCancelWorkflowExecutionResponse::default())
}

pub async fn terminate_workflow_execution(
    gateway: &Gateway,
    request: TerminateWorkflowExecutionRequest,
) -> ApiResult<TerminateWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let workflow_id = target_workflow(request.workflow_execution.as_ref())?;
    let command = Command::TerminateWorkflow(TerminateWorkflow { request: Some(request) });
    gateway.bus.run(&namespace.id, &workflow_id, command).await?;
    Ok(TerminateWorkflowExecutionResponse::default())
}

/// The workflow id a request targets; its run id, when given, must be well formed.
fn target_workflow(execution: Option<&WorkflowExecution>) -> ApiResult<String> {
    let execution = execution.ok_or_else(|| ApiError::invalid("WorkflowExecution is not set on request."))?;
    require_id(&execution.workflow_id, "WorkflowId")?;
    optional_run_id(&execution.run_id)?;
    Ok(execution.workflow_id.clone())
}
