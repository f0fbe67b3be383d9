//! QueryWorkflow and RespondQueryTaskCompleted. A query goes to the sticky
//! worker that has the run cached, without history, or else to a poller of
//! the workflow's task queue with the run's history (Temporal's "legacy
//! query" path); the asker waits for the worker's answer.

use temper_engine::state_machine::commands::is_running;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::{QueryRejectCondition, QueryResultType, TaskQueueKind, WorkflowExecutionStatus};
use temper_proto::api::query::v1::QueryRejected;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    PollWorkflowTaskQueueResponse, QueryWorkflowRequest, QueryWorkflowResponse, RespondQueryTaskCompletedRequest,
    RespondQueryTaskCompletedResponse,
};
use temper_engine::store::RunKey;
use temper_engine::time::duration_nanos;
use temper_proto::api::history::v1::History;
use temper_proto::api::query::v1::WorkflowQuery;
use temper_proto::records::command_record::Command;
use temper_proto::records::{ExecutionInfo, ResetStickyTaskQueue, TaskKind, TaskToken};
use tokio::time::Instant;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::matching::routing::{self, answer_of};
use crate::matching::{QueryAnswer, QueryTask, QueueKey, STICKY_WORKER_GONE_NANOS};
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
    if let Some(answer) = ask_sticky_worker(gateway, &run, &info, &query, deadline, forwarded).await? {
        return response_of(answer);
    }
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, &info.task_queue, forwarded)? {
        return answer_of(owner.query_workflow(routing::forwarded(request, deadline)).await);
    }
    let key = QueueKey { namespace_id: namespace.id.clone(), name: info.task_queue.clone(), kind: TaskKind::Workflow };
    // Dropping `asked` (here, or with this future when the client gives up) withdraws the query.
    let mut asked = gateway.matching.ask(key, run, info.workflow_type.clone(), query);
    match asked.answer(deadline).await {
        Some(answer) => response_of(answer),
        None => Err(ApiError::DeadlineExceeded(format!(
            "query `{}` timed out before a worker polling task queue `{}` answered it",
            asked.task().query.query_type,
            info.task_queue
        ))),
    }
}

/// How long a query waits for the sticky worker when the run sets no
/// sticky schedule-to-start timeout.
const STICKY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A running run cached by a sticky worker is queried there first, with no
/// history, as in Temporal. If that worker has not polled lately or does not
/// answer in its schedule-to-start timeout, the run loses its stickiness and
/// the query goes to the normal queue (`None`). A sticky queue another
/// gateway serves is left alone: the normal path asks the queue's owner.
async fn ask_sticky_worker(
    gateway: &Gateway,
    run: &RunKey,
    info: &ExecutionInfo,
    query: &WorkflowQuery,
    deadline: Instant,
    forwarded: bool,
) -> ApiResult<Option<QueryAnswer>> {
    if info.sticky_task_queue.is_empty() || info.close_time.is_some() {
        return Ok(None);
    }
    if gateway.queue_served_elsewhere(&run.namespace_id, &info.sticky_task_queue, forwarded)?.is_some() {
        return Ok(None);
    }
    let key = QueueKey { namespace_id: run.namespace_id.clone(), name: info.sticky_task_queue.clone(), kind: TaskKind::Workflow };
    if gateway.matching.has_worker(&key, STICKY_WORKER_GONE_NANOS) {
        let wait = info.sticky_schedule_to_start_timeout.map(|d| duration_nanos(Some(&d))).filter(|nanos| *nanos > 0);
        let wait = wait.map_or(STICKY_WAIT, |nanos| std::time::Duration::from_nanos(nanos as u64));
        let mut asked = gateway.matching.ask_sticky(key, info.task_queue.clone(), run.clone(), info.workflow_type.clone(), query.clone());
        if let Some(answer) = asked.answer(deadline.min(Instant::now() + wait)).await {
            return Ok(Some(answer));
        }
    }
    let reset = Command::ResetStickyTaskQueue(ResetStickyTaskQueue { run_id: run.run_id.clone() });
    // Losing the race with the run's close (or anything else) only means the
    // next workflow task may still go to the sticky queue.
    let _ = gateway.bus.execute(&run.namespace_id, &run.workflow_id, reset).await;
    Ok(None)
}

fn response_of(answer: QueryAnswer) -> ApiResult<QueryWorkflowResponse> {
    match answer {
        QueryAnswer::Answered(result) => Ok(QueryWorkflowResponse { query_result: result, ..Default::default() }),
        QueryAnswer::Failed { message, failure } => Err(ApiError::QueryFailed { message, failure: failure.map(Box::new) }),
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
    // The sticky worker has the run cached and answers from its cache.
    let (history, next_page_token) = if query.sticky {
        (History::default(), Vec::new())
    } else {
        page(gateway, run, 1, info.next_event_id, Vec::new(), PAGE_SIZE).await?
    };
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
