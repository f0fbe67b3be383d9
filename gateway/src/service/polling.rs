//! The poll loop workflow and activity polls share: take the next task of a
//! queue, have the engine start it for this poller, and skip tasks that turn
//! out stale (already started, run gone) until one starts or time runs out.
//!
//! A task is leased to the poll until the engine answers its start: if the
//! poll is dropped first (its client reset or gave up), the lease puts the
//! task back in front of its queue. The engine may still apply the start
//! command already appended; then the next poller's start is refused as
//! stale, and the started task is guarded by its start-to-close timeout.

use std::sync::Arc;

use futures::future::BoxFuture;
use temper_proto::records::TaskKind;
use tokio::time::Instant;

use crate::errors::ApiResult;
use crate::gateway::Gateway;
use crate::matching::{Dispatch, Lease, PendingTask, QueryTask, QueueKey};
use crate::validation::require_id;

pub enum Polled<S> {
    /// A query for the worker; the lease is settled once its poll response is built.
    Query { query: Arc<QueryTask>, lease: Lease },
    /// The engine's confirmation that this poll started a task.
    Started(S),
    Nothing,
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
    loop {
        let Some(lease) = queue.take(deadline, |expired| gateway.matching.done(&expired)).await else {
            return Ok(Polled::Nothing);
        };
        let task = match lease.dispatch() {
            Dispatch::Query(query) => return Ok(Polled::Query { query: query.clone(), lease }),
            Dispatch::Task(task) => task.clone(),
        };
        // On an error the lease is dropped, so the task goes back to the queue.
        let started = start(task).await?;
        gateway.matching.settle(lease);
        if let Some(started) = started {
            return Ok(Polled::Started(started));
        }
    }
}
