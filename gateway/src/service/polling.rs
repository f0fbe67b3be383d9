//! The poll loop workflow and activity polls share: take the next task of a
//! queue, have the engine start it for this poller, and skip tasks that turn
//! out stale (already started, run gone) until one starts or time runs out.

use std::sync::Arc;

use futures::future::BoxFuture;
use temper_proto::records::TaskKind;
use tokio::time::Instant;

use crate::errors::ApiResult;
use crate::gateway::Gateway;
use crate::matching::{Dispatch, PendingTask, QueryTask, QueueKey};
use crate::validation::require_id;

pub enum Polled<T> {
    Query(Arc<QueryTask>),
    Started(T),
    Nothing,
}

pub async fn poll<'a, T>(
    gateway: &'a Gateway,
    namespace_id: &str,
    queue_name: &str,
    kind: TaskKind,
    identity: &str,
    deadline: Instant,
    start: impl Fn(PendingTask) -> BoxFuture<'a, ApiResult<Option<T>>>,
) -> ApiResult<Polled<T>> {
    require_id(queue_name, "TaskQueue")?;
    let key = QueueKey { namespace_id: namespace_id.to_string(), name: queue_name.to_string(), kind };
    let queue = gateway.matching.queue_for_poller(key, identity);
    loop {
        let Some(dispatch) = queue.take(deadline, |expired| gateway.matching.done(&expired)).await else {
            return Ok(Polled::Nothing);
        };
        let task = match dispatch {
            Dispatch::Query(query) => return Ok(Polled::Query(query)),
            Dispatch::Task(task) => task,
        };
        match start(task.clone()).await {
            Ok(Some(started)) => {
                gateway.matching.done(&task);
                return Ok(Polled::Started(started));
            }
            Ok(None) => gateway.matching.done(&task),
            Err(error) => {
                queue.return_to_front(task);
                return Err(error);
            }
        }
    }
}
