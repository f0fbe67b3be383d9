//! QueryWorkflow and RespondQueryTaskCompleted. A query goes to a poller of
//! the workflow's task queue with the run's history (Temporal's "legacy
//! query" path) and the asker waits for the worker's answer.

use temper_engine::state_machine::commands::is_running;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::{QueryRejectCondition, QueryResultType, TaskQueueKind, WorkflowExecutionStatus};
use temper_proto::api::query::v1::QueryRejected;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    PollWorkflowTaskQueueResponse, QueryWorkflowRequest, QueryWorkflowResponse, RespondQueryTaskCompletedRequest,
    RespondQueryTaskCompletedResponse,
};
use temper_proto::records::{TaskKind, TaskToken};
use tokio::time::Instant;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::matching::routing::{self, answer_of};
use crate::matching::{QueryAnswer, QueryTask, QueueKey};
use crate::service::history::page;
use crate::tokens;
use crate::validation::require_id;

/// How long a query waits for a worker when the client sets no deadline.
pub const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const PAGE_SIZE: usize = 1000;
/// How long a query's answer may take to reach the gateway holding the query.
const FORWARDED_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn query_workflow(
    gateway: &Gateway,
    request: QueryWorkflowRequest,
    deadline: Instant,
    forwarded: bool,
) -> ApiResult<QueryWorkflowResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let query = request.query.clone().ok_or_else(|| ApiError::invalid("Query is not set on request."))?;
    require_id(&query.query_type, "QueryType")?;
    let (run, state) = gateway.load_run(&namespace.id, request.execution.as_ref()).await?;
    let info = state.info.clone().unwrap_or_default();
    if let Some(rejected) = rejection(request.query_reject_condition(), &state) {
        return Ok(QueryWorkflowResponse { query_rejected: Some(rejected), ..Default::default() });
    }
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, &info.task_queue, forwarded)? {
        return answer_of(owner.query_workflow(routing::forwarded(request, deadline)).await);
    }
    let key = QueueKey { namespace_id: namespace.id.clone(), name: info.task_queue.clone(), kind: TaskKind::Workflow };
    // Dropping `asked` (here, or with this future when the client gives up) withdraws the query.
    let mut asked = gateway.matching.ask(key, run, info.workflow_type.clone(), query);
    match asked.answer(deadline).await {
        Some(QueryAnswer::Answered(result)) => Ok(QueryWorkflowResponse { query_result: result, ..Default::default() }),
        Some(QueryAnswer::Failed { message, failure }) => Err(ApiError::QueryFailed { message, failure: failure.map(Box::new) }),
        None => Err(ApiError::DeadlineExceeded(format!(
            "query `{}` timed out before a worker polling task queue `{}` answered it",
            asked.task().query.query_type,
            info.task_queue
        ))),
    }
}

/// Temporal's reject conditions: refuse to query runs that are closed, or
/// closed other than by completing.
fn rejection(condition: QueryRejectCondition, state: &temper_proto::records::WorkflowMutableState) -> Option<QueryRejected> {
    let status = state.info.as_ref().map(|info| info.status()).unwrap_or_default();
    let rejected = match condition {
        QueryRejectCondition::NotOpen => !is_running(state),
        QueryRejectCondition::NotCompletedCleanly => {
            !is_running(state) && status != WorkflowExecutionStatus::Completed
        }
        _ => false,
    };
    rejected.then_some(QueryRejected { status: status as i32 })
}

/// The poll response that carries a query to a worker.
pub async fn query_task_response(gateway: &Gateway, query: &QueryTask) -> ApiResult<PollWorkflowTaskQueueResponse> {
    let run = &query.run;
    let execution = WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() };
    let (_, state) = gateway.load_run(&run.namespace_id, Some(&execution)).await?;
    let info = state.info.unwrap_or_default();
    let (history, next_page_token) = page(gateway, run, 1, info.next_event_id, Vec::new(), PAGE_SIZE).await?;
    let token = TaskToken {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        kind: TaskKind::Query as i32,
        query_id: query.id.clone(),
        query_holder: gateway.own_address().to_string(),
        ..Default::default()
    };
    Ok(PollWorkflowTaskQueueResponse {
        task_token: tokens::encode(&token),
        workflow_execution: Some(execution),
        workflow_type: query.workflow_type.clone(),
        previous_started_event_id: info.last_completed_workflow_task_started_event_id,
        started_event_id: 0,
        attempt: 1,
        history: Some(history),
        next_page_token,
        query: Some(query.query.clone()),
        workflow_execution_task_queue: Some(TaskQueue { name: query.task_queue.clone(), kind: TaskQueueKind::Normal as i32, normal_name: String::new() }),
        ..Default::default()
    })
}

pub async fn respond_query_task_completed(
    gateway: &Gateway,
    request: RespondQueryTaskCompletedRequest,
    forwarded: bool,
) -> ApiResult<RespondQueryTaskCompletedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Query).await?;
    if let Some(router) = gateway.router.as_ref().filter(|_| !forwarded) {
        if let Some(mut holder) = router.at(&token.query_holder)? {
            let deadline = Instant::now() + FORWARDED_ANSWER_TIMEOUT;
            return answer_of(holder.respond_query_task_completed(routing::forwarded(request, deadline)).await);
        }
    }
    let answer = match request.completed_type() {
        QueryResultType::Answered => QueryAnswer::Answered(request.query_result),
        QueryResultType::Failed => QueryAnswer::Failed { message: request.error_message, failure: request.failure },
        QueryResultType::Unspecified => return Err(ApiError::invalid("CompletedType is not set on request.")),
    };
    if !gateway.matching.queries.answer(&token.query_id, answer) {
        return Err(ApiError::NotFound("query task not found, or already expired".into()));
    }
    Ok(RespondQueryTaskCompletedResponse {})
}
