//! StartWorkflowExecution and SignalWithStartWorkflowExecution.

use temper_engine::state_machine::commands::{Reply, start_request_of};
use temper_engine::cron::CronSchedule;
use temper_engine::state_machine::{Config, retry_policy_with_defaults, validate_retry_policy};
use temper_engine::time::duration_nanos;
use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use temper_proto::api::workflowservice::v1::{
    SignalWithStartWorkflowExecutionRequest, SignalWithStartWorkflowExecutionResponse, StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{SignalWithStartWorkflow, StartWorkflow};

use crate::errors::{ApiError, ApiResult, unexpected};
use crate::gateway::Gateway;
use super::workflow_tasks::workflow_task_response;
use temper_engine::store::RunKey;
use crate::validation::{new_run_in, non_negative, request_id_or_new, require_id};

pub async fn start_workflow_execution(
    gateway: &Gateway,
    mut request: StartWorkflowExecutionRequest,
) -> ApiResult<StartWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    validate_new_run(&request)?;
    new_run_in(&namespace, request.search_attributes.as_ref())?;
    request.request_id = request_id_or_new(&request.request_id);
    let workflow_id = request.workflow_id.clone();
    let namespace_retention = namespace.retention;
    let run_id = uuid::Uuid::new_v4().to_string();
    let command = Command::StartWorkflow(StartWorkflow { request: Some(request), run_id, namespace_retention, scheduled_by: None });
    let (run_id, started, eager_workflow_task) = match gateway.bus.run(&namespace.id, &workflow_id, command).await? {
        Reply::Started { run_id, started } => (run_id, started, None),
        Reply::StartedEagerly { run_id, task } => {
            let run = RunKey { namespace_id: namespace.id.clone(), workflow_id: workflow_id.clone(), run_id: run_id.clone() };
            let eager_task = workflow_task_response(gateway, &run, *task).await?;
            (run_id, true, Some(eager_task))
        }
        other => return Err(unexpected(other)),
    };
    Ok(StartWorkflowExecutionResponse {
        first_execution_run_id: run_id.clone(),
        run_id,
        started,
        status: WorkflowExecutionStatus::Running as i32,
        eager_workflow_task,
        ..Default::default()
    })
}

pub async fn signal_with_start_workflow_execution(
    gateway: &Gateway,
    mut request: SignalWithStartWorkflowExecutionRequest,
) -> ApiResult<SignalWithStartWorkflowExecutionResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    validate_new_run(&start_request_of(&request))?;
    require_id(&request.signal_name, "SignalName")?;
    new_run_in(&namespace, request.search_attributes.as_ref())?;
    request.request_id = request_id_or_new(&request.request_id);
    let workflow_id = request.workflow_id.clone();
    let namespace_retention = namespace.retention;
    let start = |run_id| {
        Command::SignalWithStartWorkflow(SignalWithStartWorkflow { request: Some(request), run_id, namespace_retention })
    };
    let (run_id, started) = start_run(gateway, &namespace.id, &workflow_id, start).await?;
    Ok(SignalWithStartWorkflowExecutionResponse { first_execution_run_id: run_id.clone(), run_id, started, ..Default::default() })
}

/// Appends a start with a fresh run id (the engine takes no randomness) and
/// returns the run the workflow id now names and whether this start created it.
async fn start_run(
    gateway: &Gateway,
    namespace_id: &str,
    workflow_id: &str,
    command: impl FnOnce(String) -> Command,
) -> ApiResult<(String, bool)> {
    let run_id = uuid::Uuid::new_v4().to_string();
    match gateway.bus.run(namespace_id, workflow_id, command(run_id)).await? {
        Reply::Started { run_id, started } => Ok((run_id, started)),
        other => Err(unexpected(other)),
    }
}

/// Checks what a new run is created from; both starts share it.
pub(super) fn validate_new_run(request: &StartWorkflowExecutionRequest) -> ApiResult<()> {
    require_id(&request.workflow_id, "WorkflowId")?;
    require_id(request.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(), "WorkflowType")?;
    require_id(request.task_queue.as_ref().map(|q| q.name.as_str()).unwrap_or_default(), "TaskQueue")?;
    non_negative(request.workflow_execution_timeout.as_ref(), "WorkflowExecutionTimeout")?;
    non_negative(request.workflow_run_timeout.as_ref(), "WorkflowRunTimeout")?;
    non_negative(request.workflow_task_timeout.as_ref(), "WorkflowTaskTimeout")?;
    non_negative(request.workflow_start_delay.as_ref(), "WorkflowStartDelay")?;
    if !request.cron_schedule.is_empty() {
        CronSchedule::parse(&request.cron_schedule).map_err(|error| ApiError::invalid(error.to_string()))?;
        if duration_nanos(request.workflow_start_delay.as_ref()) > 0 {
            return Err(ApiError::invalid("CronSchedule and WorkflowStartDelay may not be used together."));
        }
    }
    if let Some(policy) = &request.retry_policy {
        let defaults = Config::default().workflow_retry;
        validate_retry_policy(&retry_policy_with_defaults(Some(policy.clone()), &defaults))
            .map_err(|message| ApiError::invalid(format!("Invalid WorkflowRetryPolicy: {message}")))?;
    }
    if !request.completion_callbacks.is_empty() {
        return Err(ApiError::Unimplemented("completion callbacks are not supported by Temper yet".into()));
    }
    Ok(())
}

/// A start of a `Hello` workflow on the queue `queue` of the `default`
/// namespace, as service tests send it.
#[cfg(test)]
pub fn hello_start(workflow_id: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(temper_proto::api::common::v1::WorkflowType { name: "Hello".into() }),
        task_queue: Some(temper_proto::api::taskqueue::v1::TaskQueue { name: "queue".into(), ..Default::default() }),
        ..Default::default()
    }
}
