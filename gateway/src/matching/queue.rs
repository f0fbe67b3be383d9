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
        state.queries.retain(|waiting| !waiting.abandoned());
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

    /// Nothing queued, nobody waiting, and no poller seen within `recent_nanos`:
    /// the queue can be forgotten (it is recreated by the next poll or task).
    pub fn is_idle(&self, recent_nanos: i64) -> bool {
        let idle_state = {
            let state = self.state.lock();
            state.backlog.is_empty() && state.queries.is_empty() && state.waiting.iter().all(|poller| poller.is_closed())
        };
        idle_state && self.recent_pollers(recent_nanos).is_empty()
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use temper_engine::store::RunKey;
    use temper_engine::time::timestamp_from_nanos;
    use temper_proto::api::query::v1::WorkflowQuery;

    use super::*;
    use crate::matching::Queries;

    fn task(offset: u64, expiry: Option<i64>) -> PendingTask {
        PendingTask {
            record: TaskRecord { scheduled_event_id: offset as i64, expiry: expiry.map(timestamp_from_nanos), ..Default::default() },
            partition: 0,
            offset,
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    fn offset_of(dispatch: Option<Dispatch>) -> Option<u64> {
        match dispatch {
            Some(Dispatch::Task(task)) => Some(task.offset),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_waiting_poller_gets_an_offered_task_directly() {
        let queue = Arc::new(TaskQueue::default());
        let poller = {
            let queue = queue.clone();
            tokio::spawn(async move { offset_of(queue.take(Instant::now() + Duration::from_secs(5), |_| {}).await) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.offer(task(7, None));
        assert_eq!(poller.await.unwrap(), Some(7));
        assert_eq!(queue.backlog_len(), 0);
    }

    #[tokio::test]
    async fn tasks_wait_in_order_and_expired_ones_are_handed_back() {
        let queue = TaskQueue::default();
        queue.offer(task(1, Some(now_nanos() - 1)));
        queue.offer(task(2, None));
        queue.offer(task(3, None));
        let mut expired = Vec::new();
        assert_eq!(offset_of(queue.take(soon(), |t| expired.push(t.offset)).await), Some(2));
        assert_eq!(expired, vec![1]);
        queue.return_to_front(task(2, None));
        assert_eq!(offset_of(queue.take(soon(), |_| {}).await), Some(2));
        assert_eq!(offset_of(queue.take(soon(), |_| {}).await), Some(3));
        assert_eq!(offset_of(queue.take(soon(), |_| {}).await), None, "nothing left: the poll ends at its deadline");
    }

    #[tokio::test]
    async fn queries_go_first_unless_their_asker_gave_up() {
        let queue = TaskQueue::default();
        let queries = Queries::default();
        let run = RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() };
        let (abandoned, _) = queries.register(run.clone(), None, "q".into(), WorkflowQuery::default());
        let (wanted, _answer) = queries.register(run, None, "q".into(), WorkflowQuery::default());
        queue.offer(task(1, None));
        queue.offer_query(abandoned.clone());
        queries.abandon(&abandoned.id);
        queue.offer_query(wanted.clone());
        match queue.take(soon(), |_| {}).await {
            Some(Dispatch::Query(query)) => assert_eq!(query.id, wanted.id),
            _ => panic!("the waiting query comes before the task"),
        }
        assert_eq!(offset_of(queue.take(soon(), |_| {}).await), Some(1));
    }

    #[tokio::test]
    async fn a_queue_is_idle_only_when_empty_and_unpolled() {
        let queue = TaskQueue::default();
        assert!(queue.is_idle(1_000_000_000));
        queue.record_poller("worker");
        assert!(!queue.is_idle(1_000_000_000));
        assert!(queue.is_idle(-1), "a poller seen longer ago than the window does not count");
        queue.offer(task(1, None));
        assert!(!queue.is_idle(-1));
    }
}
