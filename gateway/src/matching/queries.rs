//! Queries waiting for a worker's answer. A query is delivered to a poller of
//! the workflow's task queue with the run's history; the worker answers with
//! RespondQueryTaskCompleted, which may reach any gateway request handler, so
//! pending queries are found by id.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dashmap::DashMap;
use parking_lot::Mutex;
use temper_engine::store::RunKey;
use temper_proto::api::common::v1::{Payloads, WorkflowType};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::query::v1::WorkflowQuery;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::queue::TaskQueue;

pub enum QueryAnswer {
    Answered(Option<Payloads>),
    Failed { message: String, failure: Option<Failure> },
}

pub struct QueryTask {
    pub id: String,
    pub run: RunKey,
    pub workflow_type: Option<WorkflowType>,
    /// The workflow's normal task queue.
    pub task_queue: String,
    pub query: WorkflowQuery,
    /// Offered on the sticky queue of the worker that has the run cached:
    /// it answers without history.
    pub sticky: bool,
    abandoned: AtomicBool,
    answer: Mutex<Option<oneshot::Sender<QueryAnswer>>>,
}

impl QueryTask {
    /// The asker gave up; pollers skip it.
    pub fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Queries {
    pending: DashMap<String, Arc<QueryTask>>,
}

impl Queries {
    /// Registers a query and offers it to `queue`'s pollers. The query is
    /// pending while the returned [`AskedQuery`] lives.
    pub fn ask(
        &self,
        queue: Arc<TaskQueue>,
        run: RunKey,
        workflow_type: Option<WorkflowType>,
        task_queue: String,
        query: WorkflowQuery,
        sticky: bool,
    ) -> AskedQuery<'_> {
        let (sender, answer) = oneshot::channel();
        let task = Arc::new(QueryTask {
            id: uuid::Uuid::new_v4().to_string(),
            run,
            workflow_type,
            task_queue,
            query,
            sticky,
            abandoned: AtomicBool::new(false),
            answer: Mutex::new(Some(sender)),
        });
        self.pending.insert(task.id.clone(), task.clone());
        queue.offer_query(task.clone());
        AskedQuery { queries: self, queue, task, answer }
    }

    /// Delivers a worker's answer; false if nobody waits for it any more.
    pub fn answer(&self, id: &str, answer: QueryAnswer) -> bool {
        let Some((_, task)) = self.pending.remove(id) else { return false };
        let sender = task.answer.lock().take();
        sender.is_some_and(|sender| sender.send(answer).is_ok())
    }

    fn abandon(&self, id: &str) {
        if let Some((_, task)) = self.pending.remove(id) {
            task.abandoned.store(true, Ordering::Relaxed);
        }
    }

    /// Queries whose asker still waits for an answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// A query whose asker waits for the answer. However the asker stops waiting
/// (answered, timed out, or dropped by a client that gave up), the query is
/// withdrawn, so neither the pending map nor the queue keeps its arguments.
pub struct AskedQuery<'a> {
    queries: &'a Queries,
    queue: Arc<TaskQueue>,
    task: Arc<QueryTask>,
    answer: oneshot::Receiver<QueryAnswer>,
}

impl AskedQuery<'_> {
    pub fn task(&self) -> &QueryTask {
        &self.task
    }

    /// The worker's answer, or `None` if none came before `deadline`.
    pub async fn answer(&mut self, deadline: Instant) -> Option<QueryAnswer> {
        tokio::time::timeout_at(deadline, &mut self.answer).await.ok()?.ok()
    }
}

impl Drop for AskedQuery<'_> {
    fn drop(&mut self) {
        self.queries.abandon(&self.task.id);
        self.queue.withdraw_query(&self.task.id);
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::time::Duration;

    use futures::poll;

    use super::*;
    use crate::matching::{Dispatch, QueueCounts};

    fn run() -> RunKey {
        RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() }
    }

    fn ask<'a>(queries: &'a Queries, queue: &Arc<TaskQueue>) -> AskedQuery<'a> {
        queries.ask(queue.clone(), run(), None, "q".into(), WorkflowQuery { query_type: "state".into(), ..Default::default() }, false)
    }

    #[tokio::test]
    async fn an_asker_that_gives_up_mid_wait_leaves_nothing_behind() {
        let (queries, queue) = (Queries::default(), Arc::new(TaskQueue::default()));
        {
            let mut asked = ask(&queries, &queue);
            let mut waiting = pin!(asked.answer(Instant::now() + Duration::from_secs(60)));
            assert!(poll!(waiting.as_mut()).is_pending());
            assert_eq!((queries.pending(), queue.counts().queued_queries), (1, 1));
        }
        assert_eq!((queries.pending(), queue.counts()), (0, QueueCounts::default()));
    }

    #[tokio::test]
    async fn an_answered_query_leaves_nothing_behind() {
        let (queries, queue) = (Queries::default(), Arc::new(TaskQueue::default()));
        let mut asked = ask(&queries, &queue);
        let lease = queue.take(Instant::now(), |_| {}).await.expect("the query");
        let Dispatch::Query(delivered) = lease.settle() else { panic!("a query") };
        assert!(queries.answer(&delivered.id, QueryAnswer::Answered(None)));
        assert!(matches!(asked.answer(Instant::now()).await, Some(QueryAnswer::Answered(None))));
        drop(asked);
        assert_eq!((queries.pending(), queue.counts()), (0, QueueCounts::default()));
    }

    #[tokio::test]
    async fn a_query_handed_to_a_dropped_poll_is_offered_again_unless_abandoned() {
        let (queries, queue) = (Queries::default(), Arc::new(TaskQueue::default()));
        let asked = ask(&queries, &queue);
        drop(queue.take(Instant::now(), |_| {}).await.expect("the query"));
        assert_eq!(queue.counts().queued_queries, 1, "back in the queue for the next poller");
        let lease = queue.take(Instant::now(), |_| {}).await.expect("the query again");
        drop(asked);
        drop(lease);
        assert_eq!((queries.pending(), queue.counts()), (0, QueueCounts::default()));
    }
}
