//! PollWorkflowTaskQueue, RespondWorkflowTaskCompleted, RespondWorkflowTaskFailed.

use temper_engine::state_machine::commands::{Reply, WorkflowTaskStarted};
use temper_engine::store::RunKey;
use temper_engine::time::timestamp_from_nanos;
use temper_proto::api::common::v1::WorkflowExecution;
use temper_proto::api::enums::v1::TaskQueueKind;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse, RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse, RespondWorkflowTaskFailedRequest, RespondWorkflowTaskFailedResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{
    CompleteWorkflowTask, FailWorkflowTask, RecordWorkflowTaskStarted, SearchAttributeTypes, TaskKind, TaskToken,
};
use futures::future::BoxFuture;
use tokio::time::Instant;

use super::activity_tasks::activity_task_for;
use super::query::query_task_response;
use crate::errors::{ApiResult, unexpected};
use crate::gateway::Gateway;
use crate::matching::PendingTask;
use crate::matching::routing::{self, answer_of};
use crate::service::polling::{Polled, poll};
use crate::service::history::page;
use crate::tokens;

/// History events sent with a workflow task; workers fetch the rest.
const POLL_PAGE_SIZE: usize = 1000;
/// How long a poll waits for a task before answering empty.
pub const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn poll_workflow_task_queue(
    gateway: &Gateway,
    request: PollWorkflowTaskQueueRequest,
    deadline: Instant,
    forwarded: bool,
) -> ApiResult<PollWorkflowTaskQueueResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let queue_name = request.task_queue.as_ref().map(|q| q.name.as_str()).unwrap_or_default();
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, queue_name, forwarded)? {
        // A stopping gateway answers empty; the worker polls again, elsewhere.
        let forwarded = gateway.unless_draining(owner.poll_workflow_task_queue(routing::forwarded(request, deadline))).await;
        return forwarded.map_or_else(|| Ok(PollWorkflowTaskQueueResponse::default()), answer_of);
    }
    let identity = request.identity.as_str();
    let start_task = |task: PendingTask| -> BoxFuture<'_, _> { Box::pin(async move { start(gateway, &task, identity).await }) };
    match poll(gateway, &namespace.id, queue_name, TaskKind::Workflow, &request.identity, deadline, start_task).await? {
        Polled::Started((run, started)) => workflow_task_response(gateway, &run, started).await,
        Polled::Query { query, lease } => {
            let response = query_task_response(gateway, &query).await;
            // A query that cannot be delivered would fail the same way for every poller.
            gateway.matching.settle(lease);
            response
        }
        Polled::Nothing => Ok(PollWorkflowTaskQueueResponse::default()),
    }
}

/// Asks the engine to start the task for this poll; `None` if the task is stale.
async fn start(gateway: &Gateway, task: &PendingTask, identity: &str) -> ApiResult<Option<(RunKey, WorkflowTaskStarted)>> {
    let record = &task.record;
    let command = Command::RecordWorkflowTaskStarted(RecordWorkflowTaskStarted {
        run_id: record.run_id.clone(),
        scheduled_event_id: record.scheduled_event_id,
        request_id: uuid::Uuid::new_v4().to_string(),
        identity: identity.to_string(),
        task_queue: Some(TaskQueue { name: record.task_queue.clone(), ..Default::default() }),
    });
    match gateway.bus.execute(&record.namespace_id, &record.workflow_id, command).await? {
        Ok(Reply::WorkflowTaskStarted(started)) => Ok(Some((task.run(), started))),
        Ok(other) => Err(unexpected(other)),
        Err(_) => Ok(None),
    }
}

/// What a worker gets for a started workflow task: a sticky worker only the
/// events after the last task it completed, any other the whole history.
pub async fn workflow_task_response(gateway: &Gateway, run: &RunKey, started: WorkflowTaskStarted) -> ApiResult<PollWorkflowTaskQueueResponse> {
    let first = if started.sticky { started.previous_started_event_id + 1 } else { 1 };
    let (history, next_page_token) =
        page(gateway, run, first, started.history_end_event_id, started.transient_events, POLL_PAGE_SIZE).await?;
    let token = TaskToken {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        scheduled_event_id: started.scheduled_event_id,
        attempt: started.attempt,
        started_event_id: started.started_event_id,
        kind: TaskKind::Workflow as i32,
        started_time_nanos: started.started_time_nanos,
        ..Default::default()
    };
    Ok(PollWorkflowTaskQueueResponse {
        task_token: tokens::encode(&token),
        workflow_execution: Some(WorkflowExecution { workflow_id: run.workflow_id.clone(), run_id: run.run_id.clone() }),
        workflow_type: started.workflow_type,
        previous_started_event_id: started.previous_started_event_id,
        started_event_id: started.started_event_id,
        attempt: started.attempt,
        history: Some(history),
        next_page_token,
        workflow_execution_task_queue: Some(TaskQueue {
            name: started.task_queue,
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        scheduled_time: Some(timestamp_from_nanos(started.scheduled_time_nanos)),
        started_time: Some(timestamp_from_nanos(started.started_time_nanos)),
        messages: started.messages,
        ..Default::default()
    })
}

pub async fn respond_workflow_task_completed(
    gateway: &Gateway,
    request: RespondWorkflowTaskCompletedRequest,
) -> ApiResult<RespondWorkflowTaskCompletedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Workflow).await?;
    let run = run_of(&token);
    let namespace = request.namespace.clone();
    let namespace_name = namespace.as_str();
    // The engine checks the search attributes commands set against the
    // namespace's (it reads no namespaces itself).
    let custom = gateway.namespaces.by_id(&token.namespace_id).await?.custom_search_attributes;
    let search_attribute_types = Some(SearchAttributeTypes { custom });
    let complete = |token| {
        Command::CompleteWorkflowTask(CompleteWorkflowTask { token: Some(token), request: Some(request), search_attribute_types })
    };
    match gateway.answer_task(token, complete).await? {
        Reply::WorkflowTaskCompleted { new_task, reset_history_event_id, activity_tasks } => {
            let workflow_task = match new_task {
                Some(started) => Some(workflow_task_response(gateway, &run, started).await?),
                None => None,
            };
            let mut eager_activities = Vec::with_capacity(activity_tasks.len());
            for started in activity_tasks {
                eager_activities.push(activity_task_for(gateway, namespace_name, &run, started).await?);
            }
            Ok(RespondWorkflowTaskCompletedResponse {
                workflow_task,
                reset_history_event_id,
                activity_tasks: eager_activities,
            })
        }
        other => Err(unexpected(other)),
    }
}

pub async fn respond_workflow_task_failed(
    gateway: &Gateway,
    request: RespondWorkflowTaskFailedRequest,
) -> ApiResult<RespondWorkflowTaskFailedResponse> {
    let token = gateway.task_token(&request.namespace, &request.task_token, TaskKind::Workflow).await?;
    gateway.answer_task(token, |token| Command::FailWorkflowTask(FailWorkflowTask { token: Some(token), request: Some(request) })).await?;
    Ok(RespondWorkflowTaskFailedResponse {})
}

fn run_of(token: &TaskToken) -> RunKey {
    RunKey { namespace_id: token.namespace_id.clone(), workflow_id: token.workflow_id.clone(), run_id: token.run_id.clone() }
}

