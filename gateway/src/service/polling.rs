//! The poll loop workflow and activity polls share: take the next task of a
//! queue, have the engine start it for this poller, and skip tasks that turn
//! out stale (already started, run gone) until one starts or time runs out.
//!
//! A task is leased to the poll until the engine answers its start: if the
//! poll is dropped first (its client reset or gave up), the lease puts the
//! task back in front of its queue. The engine may still apply the start
//! command already appended; then the next poller's start is refused as
//! stale, and the started task is guarded by its start-to-close timeout.
//! A task a previous owner of its partition may have handed out is checked
//! against its run's stored state first (see `awaits_start`).

use std::sync::Arc;

use futures::future::BoxFuture;
use temper_proto::records::TaskKind;
use tokio::time::Instant;

use temper_engine::state_machine::task_lookup;

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::matching::metrics::{self, OpenPoll};
use crate::matching::{Dispatch, Lease, PendingTask, QueryTask, QueueKey};
use crate::validation::require_id;

pub enum Polled<S> {
    /// A query for the worker; the lease is settled once its poll response is built.
    Query { query: Arc<QueryTask>, lease: Lease },
    /// The engine's confirmation that this poll started a task.
    Started(S),
    Nothing,
}

/// Whether the task still waits for a worker, judged from its run's stored
/// state: a read costs far less than asking the engine, which matters when
/// a gateway takes over a partition and reads again the tasks its previous
/// owner handed out. When the state cannot be read, the engine decides.
async fn awaits_start(gateway: &Gateway, task: &PendingTask) -> bool {
    match gateway.load_state(&task.run()).await {
        Ok(state) => task_lookup::awaits_start(&state, &task.record),
        Err(ApiError::NotFound(_)) => false,
        Err(_) => true,
    }
}

pub async fn poll<'a, S>(
    gateway: &'a Gateway,
    namespace_id: &str,
    queue_name: &str,
    kind: TaskKind,
    identity: &str,
    deadline: Instant,
    start: impl Fn(PendingTask) -> BoxFuture<'a, ApiResult<Option<S>>>,
) -> ApiResult<Polled<S>> {
    require_id(queue_name, "TaskQueue")?;
    if gateway.matching.is_draining() {
        return Ok(Polled::Nothing);
    }
    let key = QueueKey { namespace_id: namespace_id.to_string(), name: queue_name.to_string(), kind };
    let queue = gateway.matching.queue_for_poller(key, identity);
    let _open = OpenPoll::new(kind);
    loop {
        let Some(lease) = queue.take(deadline, |expired| gateway.matching.done(&expired)).await else {
            metrics::poll_answered(kind, "empty");
            return Ok(Polled::Nothing);
        };
        let task = match lease.dispatch() {
            Dispatch::Query(query) => {
                metrics::poll_answered(kind, "query");
                return Ok(Polled::Query { query: query.clone(), lease });
            }
            Dispatch::Task(task) => task.clone(),
        };
        if task.maybe_handed_out && !awaits_start(gateway, &task).await {
            gateway.matching.settle(lease);
            continue;
        }
        let dispatch_span = DispatchSpan::of(&task);
        // On an error the lease is dropped, so the task goes back to the queue.
        let started = start(task).await?;
        gateway.matching.settle(lease);
        if let Some(started) = started {
            metrics::poll_answered(kind, "task");
            if let Some(span) = dispatch_span {
                span.record();
            }
            return Ok(Polled::Started(started));
        }
    }
}

/// A traced task's `matching.dispatch` span: from matching reading it off
/// the `tasks` log, through its wait in the backlog (none on a sync match),
/// to a poll starting it; child of the engine's span that dispatched it.
struct DispatchSpan {
    parent: opentelemetry::Context,
    read_at: std::time::SystemTime,
    task_queue: String,
    attempt: i32,
}

impl DispatchSpan {
    fn of(task: &PendingTask) -> Option<DispatchSpan> {
        let parent = temper_engine::traces::context_from(&task.record.trace_context)?;
        Some(DispatchSpan { parent, read_at: task.read_at, task_queue: task.record.task_queue.clone(), attempt: task.record.attempt })
    }

    fn record(self) {
        use opentelemetry::KeyValue;
        let attributes = vec![KeyValue::new("temper.task_queue", self.task_queue), KeyValue::new("temper.attempt", i64::from(self.attempt))];
        temper_engine::traces::record_span(&self.parent, "matching.dispatch", self.read_at, std::time::SystemTime::now(), attributes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use temper_engine::embedded_db::EmbeddedDb;
    use temper_engine::log::{Log, LogName};
    use temper_engine::notify::HistoryNotifier;
    use temper_engine::replies::LocalReplies;
    use temper_engine::store::Store;
    use temper_engine::{Engine, EngineConfig};
    use temper_proto::api::taskqueue::v1::TaskQueue;
    use temper_proto::api::workflowservice::v1::PollWorkflowTaskQueueRequest;
    use tokio::sync::watch;

    use crate::gateway::Gateway;
    use crate::matching::Matching;
    use crate::service::start::{hello_start, start_workflow_execution};
    use crate::service::workflow_tasks::poll_workflow_task_queue;

    /// A gateway over the engine's log and store, and what stops its matching.
    async fn gateway_over(log: Arc<dyn Log>, store: Arc<dyn Store>, engine: &Engine, replies: Arc<LocalReplies>) -> (Gateway, watch::Sender<bool>) {
        let (stop, stopped) = watch::channel(false);
        let matching = Matching::start(log.clone(), store.clone(), stopped).await.expect("matching started");
        let gateway = Gateway::of_one_shard(log, store, replies, engine.health(), Arc::new(HistoryNotifier::default()), matching).await;
        (gateway, stop)
    }

    fn poll_request() -> PollWorkflowTaskQueueRequest {
        PollWorkflowTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(TaskQueue { name: "queue".into(), ..Default::default() }),
            identity: "worker".into(),
            ..Default::default()
        }
    }

    /// A gateway that crashed never stored how far it got: the gateway
    /// taking its partition reads again a task it handed out. The poll
    /// passes over it on the run's stored state, appending no command.
    #[tokio::test]
    async fn a_task_the_previous_owner_handed_out_is_passed_over_without_asking_the_engine() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        let replies = Arc::new(LocalReplies::new(1));
        let config = EngineConfig { shard_count: 1, ..EngineConfig::default() };
        let engine = Engine::start(config, log.clone(), store.clone(), replies.clone(), Arc::new(HistoryNotifier::default()))
            .await
            .expect("engine started");
        let (previous, _stop_previous) = gateway_over(log.clone(), store.clone(), &engine, replies.clone()).await;
        let start = hello_start("wf");
        start_workflow_execution(&previous, start).await.expect("started");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let handed_out = poll_workflow_task_queue(&previous, poll_request(), deadline, false).await.expect("polled");
        assert!(!handed_out.task_token.is_empty(), "the first owner hands the workflow task out");

        let (next, _stop_next) = gateway_over(log.clone(), store, &engine, replies).await;
        let commands_before = log.end_offset(LogName::Commands, 0).await.expect("commands end");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        let again = poll_workflow_task_queue(&next, poll_request(), deadline, false).await.expect("polled");
        assert!(again.task_token.is_empty(), "the task started already: nothing to hand out");
        assert_eq!(next.matching.counts().outstanding_tasks, 0, "the task read again is done with");
        assert_eq!(log.end_offset(LogName::Commands, 0).await.expect("commands end"), commands_before, "the engine was not asked");
    }
}
