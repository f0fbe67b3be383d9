//! One task queue of one kind: tasks waiting for pollers, pollers waiting for
//! tasks, and the queries to deliver. A task offered while a poller waits
//! goes straight to it (sync match).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use temper_engine::time::{now_nanos, timestamp_nanos};
use temper_proto::records::TaskRecord;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::queries::QueryTask;

/// A task read from the `tasks` log, with where it came from (for acking).
#[derive(Clone, Debug)]
pub struct PendingTask {
    pub record: TaskRecord,
    pub partition: u32,
    pub offset: u64,
}

impl PendingTask {
    pub fn expired(&self, now_nanos: i64) -> bool {
        self.record.expiry.as_ref().is_some_and(|expiry| timestamp_nanos(expiry) <= now_nanos)
    }
}

pub enum Dispatch {
    Task(PendingTask),
    Query(Arc<QueryTask>),
}

#[derive(Clone, Debug)]
pub struct PollerSeen {
    pub last_access_nanos: i64,
}

#[derive(Default)]
struct State {
    backlog: VecDeque<PendingTask>,
    queries: VecDeque<Arc<QueryTask>>,
    waiting: VecDeque<oneshot::Sender<Dispatch>>,
}

#[derive(Default)]
pub struct TaskQueue {
    state: Mutex<State>,
    pollers: Mutex<HashMap<String, PollerSeen>>,
}

impl TaskQueue {
    /// Hands a task to a waiting poller, or keeps it for the next one.
    pub fn offer(&self, task: PendingTask) {
        let mut state = self.state.lock();
        if let Some(Dispatch::Task(task)) = give_to_waiting_poller(&mut state, Dispatch::Task(task)) {
            state.backlog.push_back(task);
        }
    }

    /// Puts back a task a poller could not take, ahead of the others.
    pub fn return_to_front(&self, task: PendingTask) {
        self.state.lock().backlog.push_front(task);
    }

    pub fn offer_query(&self, query: Arc<QueryTask>) {
        let mut state = self.state.lock();
        if let Some(Dispatch::Query(query)) = give_to_waiting_poller(&mut state, Dispatch::Query(query)) {
            state.queries.push_back(query);
        }
    }

    /// The next query or task, waiting until `deadline`. Expired tasks are
    /// returned through `on_expired` so they can be acknowledged.
    pub async fn take(&self, deadline: Instant, mut on_expired: impl FnMut(PendingTask)) -> Option<Dispatch> {
        let mut receiver = {
            let mut state = self.state.lock();
            while let Some(query) = state.queries.pop_front() {
                if !query.abandoned() {
                    return Some(Dispatch::Query(query));
                }
            }
            let now = now_nanos();
            while let Some(task) = state.backlog.pop_front() {
                if task.expired(now) {
                    on_expired(task);
                } else {
                    return Some(Dispatch::Task(task));
                }
            }
            let (sender, receiver) = oneshot::channel();
            state.waiting.push_back(sender);
            receiver
        };
        match tokio::time::timeout_at(deadline, &mut receiver).await {
            Ok(Ok(dispatch)) => Some(dispatch),
            Ok(Err(_)) => None,
            Err(_) => {
                // Something sent just as the deadline passed must not be lost.
                receiver.close();
                receiver.try_recv().ok()
            }
        }
    }

    /// Wakes every waiting poller with nothing (their worker shut down).
    pub fn release_pollers(&self) {
        self.state.lock().waiting.clear();
    }

    pub fn record_poller(&self, identity: &str) {
        self.pollers.lock().insert(identity.to_string(), PollerSeen { last_access_nanos: now_nanos() });
    }

    /// Pollers seen within `recent_nanos`.
    pub fn recent_pollers(&self, recent_nanos: i64) -> Vec<(String, PollerSeen)> {
        let cutoff = now_nanos() - recent_nanos;
        let mut pollers = self.pollers.lock();
        pollers.retain(|_, seen| seen.last_access_nanos >= cutoff);
        pollers.iter().map(|(identity, seen)| (identity.clone(), seen.clone())).collect()
    }

    pub fn backlog_len(&self) -> usize {
        self.state.lock().backlog.len()
    }

    /// Removes expired tasks nobody polls for, so their offsets can be acknowledged.
    pub fn drain_expired(&self, now_nanos: i64) -> Vec<PendingTask> {
        let mut state = self.state.lock();
        let (expired, kept): (Vec<_>, Vec<_>) = state.backlog.drain(..).partition(|task| task.expired(now_nanos));
        state.backlog = kept.into();
        expired
    }
}

/// Gives `dispatch` to the first poller still waiting; returns it if none is.
fn give_to_waiting_poller(state: &mut State, mut dispatch: Dispatch) -> Option<Dispatch> {
    while let Some(poller) = state.waiting.pop_front() {
        match poller.send(dispatch) {
            Ok(()) => return None,
            Err(returned) => dispatch = returned,
        }
    }
    Some(dispatch)
}
