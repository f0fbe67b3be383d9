//! DeleteWorkflowExecution. As in Temporal, a running run is terminated
//! first ("Delete workflow execution", by the server); the closed run is then
//! deleted with its history, and its last summary takes it out of lists.

use temper_engine::state_machine::commands::{SERVER_IDENTITY, is_running};
use temper_engine::state_machine::CommandError;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::workflowservice::v1::{
    DeleteWorkflowExecutionRequest, DeleteWorkflowExecutionResponse, TerminateWorkflowExecutionRequest,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{DeleteWorkflow, NamespaceRecord, TerminateWorkflow};

use crate::errors::ApiResult;
use crate::gateway::Gateway;

const TERMINATE_REASON: &str = "Delete workflow execution";

pub async fn delete_workflow_execution(
    gateway: &Gateway,
    request: DeleteWorkflowExecutionRequest,
) -> ApiResult<DeleteWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    delete_run(gateway, &namespace, request.workflow_execution.as_ref()).await?;
    Ok(DeleteWorkflowExecutionResponse::default())
}

/// Deletes the run `execution` names (the current one without a run id),
/// terminating it first if it runs.
pub async fn delete_run(gateway: &Gateway, namespace: &NamespaceRecord, execution: Option<&WorkflowExecution>) -> ApiResult<()> {
    let (run, state) = gateway.load_run(&namespace.id, execution).await?;
    let execution = WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() };
    if is_running(&state) {
        let terminate = Command::TerminateWorkflow(TerminateWorkflow {
            request: Some(TerminateWorkflowExecutionRequest {
                namespace: namespace.name.clone(),
                workflow_execution: Some(execution.clone()),
                reason: TERMINATE_REASON.to_string(),
                identity: SERVER_IDENTITY.to_string(),
                ..Default::default()
            }),
        });
        // A run that closed meanwhile is deleted all the same.
        match gateway.bus.execute(&namespace.id, &run.workflow_id, terminate).await? {
            Ok(_) | Err(CommandError::WorkflowCompleted) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let delete = Command::DeleteWorkflow(DeleteWorkflow { workflow_execution: Some(execution) });
    gateway.bus.run(&namespace.id, &run.workflow_id, delete).await?;
    Ok(())
}
