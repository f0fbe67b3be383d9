//! PollActivityTaskQueue, RecordActivityTaskHeartbeat and the three
//! RespondActivityTask* answers, each also by workflow and activity id (the
//! ...ById RPCs, for activities completed asynchronously).

use temper_engine::state_machine::commands::{ActivityTaskStarted, Reply};
use temper_engine::store::RunKey;
use temper_engine::time::{timestamp_from_nanos, timestamp_nanos};
use temper_proto::api::common::v1::{Payloads, WorkflowExecution};
use temper_proto::api::history::v1::ActivityTaskScheduledEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, RecordActivityTaskHeartbeatByIdRequest,
    RecordActivityTaskHeartbeatByIdResponse, RecordActivityTaskHeartbeatRequest, RecordActivityTaskHeartbeatResponse,
    RespondActivityTaskCanceledByIdRequest, RespondActivityTaskCanceledByIdResponse, RespondActivityTaskCanceledRequest,
    RespondActivityTaskCanceledResponse, RespondActivityTaskCompletedByIdRequest, RespondActivityTaskCompletedByIdResponse,
    RespondActivityTaskCompletedRequest, RespondActivityTaskCompletedResponse, RespondActivityTaskFailedByIdRequest,
    RespondActivityTaskFailedByIdResponse, RespondActivityTaskFailedRequest, RespondActivityTaskFailedResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{
    CancelActivityTask, CompleteActivityTask, FailActivityTask, RecordActivityTaskHeartbeat, RecordActivityTaskStarted,
    TaskKind, TaskToken,
};
use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::errors::{ApiError, ApiResult, unexpected};
use crate::gateway::Gateway;
use crate::matching::PendingTask;
use crate::matching::routing::{self, answer_of};
use crate::service::history::page;
use crate::service::polling::{Polled, poll};
use crate::tokens;

pub async fn poll_activity_task_queue(
    gateway: &Gateway,
    request: PollActivityTaskQueueRequest,
    deadline: Instant,
    forwarded: bool,
) -> ApiResult<PollActivityTaskQueueResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let queue_name = request.task_queue.as_ref().map(|q| q.name.as_str()).unwrap_or_default();
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, queue_name, forwarded)? {
        // A stopping gateway answers empty; the worker polls again, elsewhere.
        let forwarded = gateway.unless_draining(owner.poll_activity_task_queue(routing::forwarded(request, deadline))).await;
        return forwarded.map_or_else(|| Ok(PollActivityTaskQueueResponse::default()), answer_of);
    }
    let identity = request.identity.as_str();
    let start_task = |task: PendingTask| -> BoxFuture<'_, _> { Box::pin(async move { start(gateway, &task, identity).await }) };
    match poll(gateway, &namespace.id, queue_name, TaskKind::Activity, &request.identity, deadline, start_task).await? {
        Polled::Started((run, started)) => activity_task_for(gateway, &namespace.name, &run, started).await,
        Polled::Query { .. } | Polled::Nothing => Ok(PollActivityTaskQueueResponse::default()),
    }
}

/// Asks the engine to start the attempt for this poll; `None` if it is stale.
async fn start(gateway: &Gateway, task: &PendingTask, identity: &str) -> ApiResult<Option<(RunKey, ActivityTaskStarted)>> {
    let record = &task.record;
    let command = Command::RecordActivityTaskStarted(RecordActivityTaskStarted {
        run_id: record.run_id.clone(),
        scheduled_event_id: record.scheduled_event_id,
        attempt: record.attempt,
        request_id: uuid::Uuid::new_v4().to_string(),
        identity: identity.to_string(),
    });
    match gateway.bus.execute(&record.namespace_id, &record.workflow_id, command).await? {
        Ok(Reply::ActivityTaskStarted(started)) => Ok(Some((task.run(), started))),
        Ok(other) => Err(unexpected(other)),
        Err(_) => Ok(None),
    }
}

/// What a worker gets for a started activity attempt (polled, or started
/// eagerly for the worker completing a workflow task).
pub(super) async fn activity_task_for(
    gateway: &Gateway,
    namespace: &str,
    run: &RunKey,
    started: ActivityTaskStarted,
) -> ApiResult<PollActivityTaskQueueResponse> {
    let scheduled = scheduled_event(gateway, run, started.scheduled_event_id).await?;
    Ok(activity_task_response(namespace, run, started, scheduled))
}

/// The activity's input and header live in its scheduled event.
async fn scheduled_event(gateway: &Gateway, run: &RunKey, scheduled_event_id: i64) -> ApiResult<ActivityTaskScheduledEventAttributes> {
    let (history, _) = page(gateway, run, scheduled_event_id, scheduled_event_id + 1, Vec::new(), 1).await?;
    match history.events.into_iter().next().and_then(|event| event.attributes) {
        Some(Attributes::ActivityTaskScheduledEventAttributes(attributes)) => Ok(attributes),
        _ => Err(ApiError::Unavailable(format!("scheduled event {scheduled_event_id} of run {} is missing", run.run_id))),
    }
}

fn activity_task_response(
    namespace: &str,
    run: &RunKey,
    started: ActivityTaskStarted,
    scheduled: ActivityTaskScheduledEventAttributes,
) -> PollActivityTaskQueueResponse {
    let activity = &started.activity_info;
    let token = TaskToken {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        scheduled_event_id: started.scheduled_event_id,
        attempt: started.attempt,
        activity_id: started.activity_id.clone(),
        kind: TaskKind::Activity as i32,
        started_time_nanos: started.started_time_nanos,
        ..Default::default()
    };
    PollActivityTaskQueueResponse {
        task_token: tokens::encode(&token),
        workflow_namespace: namespace.to_string(),
        workflow_type: started.workflow_type.clone(),
        workflow_execution: Some(WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() }),
        activity_type: scheduled.activity_type,
        activity_id: started.activity_id.clone(),
        header: scheduled.header,
        input: scheduled.input,
        heartbeat_details: started.heartbeat_details.clone(),
        scheduled_time: Some(timestamp_from_nanos(started.first_scheduled_time_nanos)),
        current_attempt_scheduled_time: Some(timestamp_from_nanos(started.current_attempt_scheduled_time_nanos)),
        started_time: Some(timestamp_from_nanos(started.started_time_nanos)),
        attempt: started.attempt,
        // Present even when zero ("none"), as Temporal sends them: the
        // TypeScript SDK refuses a task without them.
        schedule_to_close_timeout: Some(activity.schedule_to_close_timeout.unwrap_or_default()),
        start_to_close_timeout: Some(activity.start_to_close_timeout.unwrap_or_default()),
        heartbeat_timeout: Some(activity.heartbeat_timeout.unwrap_or_default()),
        retry_policy: activity.retry_policy.clone(),
        priority: scheduled.priority,
        ..Default::default()
    }
}

pub async fn respond_activity_task_completed(
    gateway: &Gateway,
    request: RespondActivityTaskCompletedRequest,
) -> ApiResult<RespondActivityTaskCompletedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    complete(gateway, token, request.result, request.identity).await?;
    Ok(RespondActivityTaskCompletedResponse::default())
}

pub async fn respond_activity_task_completed_by_id(
    gateway: &Gateway,
    request: RespondActivityTaskCompletedByIdRequest,
) -> ApiResult<RespondActivityTaskCompletedByIdResponse> {
    let token = token_by_id(gateway, &request.namespace, &request.workflow_id, &request.run_id, &request.activity_id).await?;
    complete(gateway, token, request.result, request.identity).await?;
    Ok(RespondActivityTaskCompletedByIdResponse::default())
}

async fn complete(gateway: &Gateway, token: TaskToken, result: Option<Payloads>, identity: String) -> ApiResult<()> {
    gateway.answer_task(token, |token| Command::CompleteActivityTask(CompleteActivityTask { token: Some(token), result, identity })).await?;
    Ok(())
}

pub async fn respond_activity_task_failed(
    gateway: &Gateway,
    request: RespondActivityTaskFailedRequest,
) -> ApiResult<RespondActivityTaskFailedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    fail(gateway, token, request).await?;
    Ok(RespondActivityTaskFailedResponse::default())
}

pub async fn respond_activity_task_failed_by_id(
    gateway: &Gateway,
    request: RespondActivityTaskFailedByIdRequest,
) -> ApiResult<RespondActivityTaskFailedByIdResponse> {
    let token = token_by_id(gateway, &request.namespace, &request.workflow_id, &request.run_id, &request.activity_id).await?;
    let failed = RespondActivityTaskFailedRequest {
        namespace: request.namespace,
        failure: request.failure,
        identity: request.identity,
        last_heartbeat_details: request.last_heartbeat_details,
        ..Default::default()
    };
    fail(gateway, token, failed).await?;
    Ok(RespondActivityTaskFailedByIdResponse::default())
}

async fn fail(gateway: &Gateway, token: TaskToken, request: RespondActivityTaskFailedRequest) -> ApiResult<()> {
    gateway.answer_task(token, |token| Command::FailActivityTask(FailActivityTask { token: Some(token), request: Some(request) })).await?;
    Ok(())
}

pub async fn respond_activity_task_canceled(
    gateway: &Gateway,
    request: RespondActivityTaskCanceledRequest,
) -> ApiResult<RespondActivityTaskCanceledResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    cancel(gateway, token, request.details, request.identity).await?;
    Ok(RespondActivityTaskCanceledResponse::default())
}

pub async fn respond_activity_task_canceled_by_id(
    gateway: &Gateway,
    request: RespondActivityTaskCanceledByIdRequest,
) -> ApiResult<RespondActivityTaskCanceledByIdResponse> {
    let token = token_by_id(gateway, &request.namespace, &request.workflow_id, &request.run_id, &request.activity_id).await?;
    cancel(gateway, token, request.details, request.identity).await?;
    Ok(RespondActivityTaskCanceledByIdResponse::default())
}

async fn cancel(gateway: &Gateway, token: TaskToken, details: Option<Payloads>, identity: String) -> ApiResult<()> {
    gateway.answer_task(token, |token| Command::CancelActivityTask(CancelActivityTask { token: Some(token), details, identity })).await?;
    Ok(())
}

pub async fn record_activity_task_heartbeat(
    gateway: &Gateway,
    request: RecordActivityTaskHeartbeatRequest,
) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    let cancel_requested = heartbeat(gateway, token, request.details, request.identity).await?;
    Ok(RecordActivityTaskHeartbeatResponse { cancel_requested, ..Default::default() })
}

pub async fn record_activity_task_heartbeat_by_id(
    gateway: &Gateway,
    request: RecordActivityTaskHeartbeatByIdRequest,
) -> ApiResult<RecordActivityTaskHeartbeatByIdResponse> {
    let token = token_by_id(gateway, &request.namespace, &request.workflow_id, &request.run_id, &request.activity_id).await?;
    let cancel_requested = heartbeat(gateway, token, request.details, request.identity).await?;
    Ok(RecordActivityTaskHeartbeatByIdResponse { cancel_requested, ..Default::default() })
}

/// Records a heartbeat; whether the activity's cancellation was requested.
async fn heartbeat(gateway: &Gateway, token: TaskToken, details: Option<Payloads>, identity: String) -> ApiResult<bool> {
    let heartbeat = |token| Command::RecordActivityTaskHeartbeat(RecordActivityTaskHeartbeat { token: Some(token), details, identity });
    match gateway.answer_task(token, heartbeat).await? {
        Reply::Heartbeat { cancel_requested } => Ok(cancel_requested),
        other => Err(unexpected(other)),
    }
}

/// The token a worker holds for the running attempt of activity
/// `activity_id` (of the run, or of the workflow's current run when
/// `run_id` is empty): what the ...ById RPCs act with, so that an activity
/// completed asynchronously by its ids is answered exactly as by its token.
async fn token_by_id(gateway: &Gateway, namespace: &str, workflow_id: &str, run_id: &str, activity_id: &str) -> ApiResult<TaskToken> {
    let namespace = gateway.namespaces.resolve(namespace).await?;
    crate::validation::require_id(activity_id, "ActivityId")?;
    let execution = WorkflowExecution { workflow_id: workflow_id.to_string(), run_id: run_id.to_string() };
    let (run, state) = gateway.load_run(&namespace.id, Some(&execution)).await?;
    let started = state
        .activities
        .values()
        .find(|activity| activity.activity_id == activity_id)
        .and_then(|activity| activity.started_time.as_ref().map(|started| (activity, timestamp_nanos(started))));
    let Some((activity, started_time_nanos)) = started else {
        return Err(ApiError::NotFound(format!(
            "activity `{activity_id}` of workflow `{workflow_id}` is not running: invalid activity id, or the activity \
             is not started, already completed or timed out, or the workflow is closed"
        )));
    };
    Ok(TaskToken {
        namespace_id: run.namespace_id,
        workflow_id: run.workflow_id,
        run_id: run.run_id,
        scheduled_event_id: activity.scheduled_event_id,
        attempt: activity.attempt,
        activity_id: activity.activity_id.clone(),
        kind: TaskKind::Activity as i32,
        started_time_nanos,
        ..Default::default()
    })
}
