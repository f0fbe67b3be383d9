//! DescribeTaskQueue, ResetStickyTaskQueue, ShutdownWorker.

use temper_engine::time::timestamp_from_nanos;
use temper_proto::api::enums::v1::TaskQueueType;
use temper_proto::api::taskqueue::v1::{PollerInfo, TaskQueueStatus};
use temper_proto::api::workflowservice::v1::{
    DescribeTaskQueueRequest, DescribeTaskQueueResponse, ResetStickyTaskQueueRequest, ResetStickyTaskQueueResponse,
    ShutdownWorkerRequest, ShutdownWorkerResponse,
};
use temper_proto::records::command_record::Command;
use temper_proto::records::{ResetStickyTaskQueue, TaskKind};

use crate::errors::ApiResult;
use crate::gateway::Gateway;
use crate::matching::QueueKey;
use crate::matching::routing::{self, answer_of};
use crate::validation::require_id;
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

/// How long a call forwarded to the gateway serving its task queue may take.
const FORWARDED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Runs whose sticky tasks are moved to the normal queue at once.
const STICKY_MOVES_AT_ONCE: usize = 32;
/// Pollers count as present if seen this recently (as in Temporal).
const POLLER_RECENCY_NANOS: i64 = 5 * 60 * 1_000_000_000;

pub async fn describe_task_queue(
    gateway: &Gateway,
    request: DescribeTaskQueueRequest,
    forwarded: bool,
) -> ApiResult<DescribeTaskQueueResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let name = request.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default();
    require_id(&name, "TaskQueue")?;
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, &name, forwarded)? {
        return answer_of(owner.describe_task_queue(routing::forwarded(request, Instant::now() + FORWARDED_TIMEOUT)).await);
    }
    let kind = match request.task_queue_type() {
        TaskQueueType::Activity => TaskKind::Activity,
        TaskQueueType::Workflow | TaskQueueType::Unspecified => TaskKind::Workflow,
        // Temper runs no Nexus operations, so no worker polls a queue for
        // them: the answer is that none does (the Web UI asks this of every
        // workflow's queue).
        TaskQueueType::Nexus => return Ok(DescribeTaskQueueResponse::default()),
    };
    let Some(queue) = gateway.matching.existing_queue(&QueueKey { namespace_id: namespace.id, name, kind }) else {
        return Ok(DescribeTaskQueueResponse::default());
    };
    let pollers = queue
        .recent_pollers(POLLER_RECENCY_NANOS)
        .into_iter()
        .map(|(identity, seen)| PollerInfo {
            last_access_time: Some(timestamp_from_nanos(seen.last_access_nanos)),
            identity,
            ..Default::default()
        })
        .collect();
    // The legacy status is what `temporal task-queue describe` shows the backlog from.
    #[allow(deprecated)]
    let task_queue_status = request.include_task_queue_status.then(|| TaskQueueStatus {
        backlog_count_hint: queue.backlog_len() as i64,
        ..Default::default()
    });
    #[allow(deprecated)]
    Ok(DescribeTaskQueueResponse { pollers, task_queue_status, ..Default::default() })
}

pub async fn reset_sticky_task_queue(gateway: &Gateway, request: ResetStickyTaskQueueRequest) -> ApiResult<ResetStickyTaskQueueResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    let (run, _) = gateway.load_run(&namespace.id, request.execution.as_ref()).await?;
    let command = Command::ResetStickyTaskQueue(ResetStickyTaskQueue { run_id: run.run_id });
    gateway.bus.run(&namespace.id, &run.workflow_id, command).await?;
    Ok(ResetStickyTaskQueueResponse {})
}

/// Moves the workflow tasks matching hands back (their sticky worker is
/// gone) to their runs' normal queues, until `stop` turns true. A run that
/// closed or moved on meanwhile has nothing to move: such refusals are
/// dropped.
pub async fn move_sticky_tasks_to_normal_queues(gateway: Arc<Gateway>, mut stop: watch::Receiver<bool>) {
    let Some(mut returns) = gateway.matching.take_sticky_returns() else { return };
    let at_once = Arc::new(Semaphore::new(STICKY_MOVES_AT_ONCE));
    loop {
        let task = tokio::select! {
            task = returns.recv() => task,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        let Some(task) = task else { return };
        let Ok(permit) = at_once.clone().acquire_owned().await else { return };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let reset = Command::ResetStickyTaskQueue(ResetStickyTaskQueue { run_id: task.run_id.clone() });
            if let Err(error) = gateway.bus.execute(&task.namespace_id, &task.workflow_id, reset).await {
                tracing::debug!(workflow_id = %task.workflow_id, %error, "moving a sticky task to the normal queue failed");
            }
            drop(permit);
        });
    }
}

/// A worker is going away: its sticky queue's pollers are released at once,
/// and the tasks on that queue, like any that come later, go back to the
/// engine, which moves them to the normal queue (see
/// `Matching::take_sticky_returns`).
pub async fn shutdown_worker(gateway: &Gateway, request: ShutdownWorkerRequest, forwarded: bool) -> ApiResult<ShutdownWorkerResponse> {
    let namespace = gateway.namespaces.resolve(&request.namespace).await?;
    if let Some(mut owner) = gateway.queue_served_elsewhere(&namespace.id, &request.sticky_task_queue, forwarded)? {
        return answer_of(owner.shutdown_worker(routing::forwarded(request, Instant::now() + FORWARDED_TIMEOUT)).await);
    }
    if !request.sticky_task_queue.is_empty() {
        let key = QueueKey { namespace_id: namespace.id, name: request.sticky_task_queue, kind: TaskKind::Workflow };
        // Queries for the runs it cached go to the normal queue at once too.
        gateway.matching.shut_down_sticky_queue(&key);
    }
    Ok(ShutdownWorkerResponse::default())
}
