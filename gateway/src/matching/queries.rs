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

pub enum QueryAnswer {
    Answered(Option<Payloads>),
    Failed { message: String, failure: Option<Failure> },
}

pub struct QueryTask {
    pub id: String,
    pub run: RunKey,
    pub workflow_type: Option<WorkflowType>,
    pub task_queue: String,
    pub query: WorkflowQuery,
    abandoned: AtomicBool,
    answer: Mutex<Option<oneshot::Sender<QueryAnswer>>>,
}

impl QueryTask {
    /// The asker gave up (its deadline passed); pollers skip it.
    pub fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Queries {
    pending: DashMap<String, Arc<QueryTask>>,
}

impl Queries {
    pub fn register(
        &self,
        run: RunKey,
        workflow_type: Option<WorkflowType>,
        task_queue: String,
        query: WorkflowQuery,
    ) -> (Arc<QueryTask>, oneshot::Receiver<QueryAnswer>) {
        let (sender, receiver) = oneshot::channel();
        let task = Arc::new(QueryTask {
            id: uuid::Uuid::new_v4().to_string(),
            run,
            workflow_type,
            task_queue,
            query,
            abandoned: AtomicBool::new(false),
            answer: Mutex::new(Some(sender)),
        });
        self.pending.insert(task.id.clone(), task.clone());
        (task, receiver)
    }

    /// Delivers a worker's answer; false if nobody waits for it any more.
    pub fn answer(&self, id: &str, answer: QueryAnswer) -> bool {
        let Some((_, task)) = self.pending.remove(id) else { return false };
        let sender = task.answer.lock().take();
        sender.is_some_and(|sender| sender.send(answer).is_ok())
    }

    pub fn abandon(&self, id: &str) {
        if let Some((_, task)) = self.pending.remove(id) {
            task.abandoned.store(true, Ordering::Relaxed);
        }
    }
}
