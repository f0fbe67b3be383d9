//! PollActivityTaskQueue, RecordActivityTaskHeartbeat and the three
//! RespondActivityTask* answers.

use temper_engine::state_machine::commands::{ActivityTaskStarted, Reply};
use temper_engine::store::RunKey;
use temper_engine::time::timestamp_from_nanos;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::history::v1::ActivityTaskScheduledEventAttributes;
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, RecordActivityTaskHeartbeatRequest,
    RecordActivityTaskHeartbeatResponse, RespondActivityTaskCanceledRequest, RespondActivityTaskCanceledResponse,
    RespondActivityTaskCompletedRequest, RespondActivityTaskCompletedResponse, RespondActivityTaskFailedRequest,
    RespondActivityTaskFailedResponse,
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
        Polled::Started((run, started)) => {
            let scheduled = scheduled_event(gateway, &run, started.scheduled_event_id).await?;
            Ok(activity_task_response(&namespace.name, &run, started, scheduled))
        }
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
    gateway
        .answer_task(token, |token| {
            Command::CompleteActivityTask(CompleteActivityTask { token: Some(token), result: request.result, identity: request.identity })
        })
        .await?;
    Ok(RespondActivityTaskCompletedResponse::default())
}

pub async fn respond_activity_task_failed(
    gateway: &Gateway,
    request: RespondActivityTaskFailedRequest,
) -> ApiResult<RespondActivityTaskFailedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    gateway.answer_task(token, |token| Command::FailActivityTask(FailActivityTask { token: Some(token), request: Some(request) })).await?;
    Ok(RespondActivityTaskFailedResponse::default())
}

pub async fn respond_activity_task_canceled(
    gateway: &Gateway,
    request: RespondActivityTaskCanceledRequest,
) -> ApiResult<RespondActivityTaskCanceledResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    gateway
        .answer_task(token, |token| {
            Command::CancelActivityTask(CancelActivityTask { token: Some(token), details: request.details, identity: request.identity })
        })
        .await?;
    Ok(RespondActivityTaskCanceledResponse::default())
}

pub async fn record_activity_task_heartbeat(
    gateway: &Gateway,
    request: RecordActivityTaskHeartbeatRequest,
) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Activity).await?;
    let heartbeat = |token| {
        Command::RecordActivityTaskHeartbeat(RecordActivityTaskHeartbeat { token: Some(token), details: request.details, identity: request.identity })
    };
    match gateway.answer_task(token, heartbeat).await? {
        Reply::Heartbeat { cancel_requested } => Ok(RecordActivityTaskHeartbeatResponse { cancel_requested, ..Default::default() }),
        other => Err(unexpected(other)),
    }
}
