//! One task queue of one kind: tasks waiting for pollers, pollers waiting for
//! tasks, and the queries to deliver. A task offered while a poller waits
//! goes straight to it (sync match).
//!
//! Whatever a poll is handed is a [`Lease`]: if the poll is dropped (its
//! client reset the connection or gave up) before it settles the lease, the
//! task or query goes back to the front of the queue, straight to a waiting
//! poller if there is one. A task sent to a waiting poll that is dropped
//! before it wakes comes back the same way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use temper_engine::store::RunKey;
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
    /// Read from below where the partition ended when this gateway took it:
    /// its previous owner may have handed the task out already.
    pub maybe_handed_out: bool,
    /// When matching read it: the start of its `matching.dispatch` span.
    pub read_at: std::time::SystemTime,
}

impl PendingTask {
    pub fn expired(&self, now_nanos: i64) -> bool {
        self.record.expiry.as_ref().is_some_and(|expiry| timestamp_nanos(expiry) <= now_nanos)
    }

    /// The run the task belongs to.
    pub fn run(&self) -> RunKey {
        let record = &self.record;
        RunKey { namespace_id: record.namespace_id.clone(), workflow_id: record.workflow_id.clone(), run_id: record.run_id.clone() }
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

/// What one queue holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub waiting_pollers: usize,
    pub backlog: usize,
    pub queued_queries: usize,
    /// Tasks and queries handed to polls that have not settled them yet.
    pub leased: usize,
}

#[derive(Default)]
struct State {
    backlog: VecDeque<PendingTask>,
    queries: VecDeque<Arc<QueryTask>>,
    /// Waiting pollers by arrival number, oldest first, so a poll that gives
    /// up can take itself out.
    waiting: BTreeMap<u64, oneshot::Sender<Dispatch>>,
    next_poller: u64,
    leased: usize,
}

impl State {
    /// The first live query, else the first unexpired task; expired tasks
    /// met on the way go to `on_expired`.
    fn next_ready(&mut self, on_expired: &mut impl FnMut(PendingTask)) -> Option<Dispatch> {
        while let Some(query) = self.queries.pop_front() {
            if !query.abandoned() {
                return Some(Dispatch::Query(query));
            }
        }
        let now = now_nanos();
        while let Some(task) = self.backlog.pop_front() {
            if !task.expired(now) {
                return Some(Dispatch::Task(task));
            }
            on_expired(task);
        }
        None
    }

    /// Gives `dispatch` to the oldest poller still waiting; returns it if none is.
    fn hand_to_waiting_poller(&mut self, mut dispatch: Dispatch) -> Option<Dispatch> {
        while let Some((_, poller)) = self.waiting.pop_first() {
            match poller.send(dispatch) {
                Ok(()) => {
                    self.leased += 1;
                    return None;
                }
                Err(returned) => dispatch = returned,
            }
        }
        Some(dispatch)
    }

    fn wait(&mut self) -> (u64, oneshot::Receiver<Dispatch>) {
        let (sender, receiver) = oneshot::channel();
        let id = self.next_poller;
        self.next_poller += 1;
        self.waiting.insert(id, sender);
        (id, receiver)
    }
}

pub struct TaskQueue {
    state: Mutex<State>,
    pollers: Mutex<HashMap<String, PollerSeen>>,
    /// Dispatches dropped polls gave back, shared by all queues of a `Matching`
    /// so the count survives queues that are forgotten when idle.
    returned: Arc<AtomicU64>,
    sticky: AtomicBool,
}

impl Default for TaskQueue {
    fn default() -> Self {
        TaskQueue::counting_returns_in(Arc::default())
    }
}

impl TaskQueue {
    pub fn counting_returns_in(returned: Arc<AtomicU64>) -> Self {
        TaskQueue { state: Mutex::default(), pollers: Mutex::default(), returned, sticky: AtomicBool::new(false) }
    }

    /// Hands a task to a waiting poller, or keeps it for the next one.
    pub fn offer(&self, task: PendingTask) {
        let kind = task.record.kind();
        if task.record.sticky {
            self.sticky.store(true, Ordering::Relaxed);
        }
        let mut state = self.state.lock();
        let queued = state.hand_to_waiting_poller(Dispatch::Task(task));
        super::metrics::task_offered(kind, queued.is_none());
        if let Some(Dispatch::Task(task)) = queued {
            state.backlog.push_back(task);
        }
    }

    /// Whether sticky tasks (a worker's own queue) were offered here.
    pub fn is_sticky(&self) -> bool {
        self.sticky.load(Ordering::Relaxed)
    }

    pub fn offer_query(&self, query: Arc<QueryTask>) {
        let mut state = self.state.lock();
        if let Some(Dispatch::Query(query)) = state.hand_to_waiting_poller(Dispatch::Query(query)) {
            state.queries.push_back(query);
        }
    }

    /// Takes back a query whose asker stopped waiting, so its arguments are freed now.
    pub fn withdraw_query(&self, id: &str) {
        self.state.lock().queries.retain(|query| query.id != id);
    }

    /// The next query or task, waiting until `deadline`. Expired tasks are
    /// returned through `on_expired` so they can be acknowledged.
    pub async fn take(self: &Arc<Self>, deadline: Instant, mut on_expired: impl FnMut(PendingTask)) -> Option<Lease> {
        let waiting = {
            let mut state = self.state.lock();
            if let Some(dispatch) = state.next_ready(&mut on_expired) {
                state.leased += 1;
                return Some(Lease { queue: self.clone(), dispatch: Some(dispatch) });
            }
            let (id, receiver) = state.wait();
            WaitingPoller { queue: self.clone(), id, receiver }
        };
        waiting.until(deadline).await
    }

    /// What a dropped poll held goes back first in line: to a waiting poller
    /// at once, else to the front of the queue. Abandoned queries are dropped.
    fn give_back(&self, dispatch: Dispatch) {
        self.returned.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock();
        state.leased -= 1;
        if matches!(&dispatch, Dispatch::Query(query) if query.abandoned()) {
            return;
        }
        match state.hand_to_waiting_poller(dispatch) {
            Some(Dispatch::Task(task)) => state.backlog.push_front(task),
            Some(Dispatch::Query(query)) => state.queries.push_front(query),
            None => {}
        }
    }

    fn settle(&self) {
        self.state.lock().leased -= 1;
    }

    /// Wakes every waiting poller with nothing (their worker shut down).
    pub fn release_pollers(&self) {
        self.state.lock().waiting.clear();
    }

    pub fn record_poller(&self, identity: &str) {
        self.pollers.lock().insert(identity.to_string(), PollerSeen { last_access_nanos: now_nanos() });
    }

    /// The queue's worker said it is gone (ShutdownWorker): it no longer
    /// counts as having polled.
    pub fn forget_pollers(&self) {
        self.pollers.lock().clear();
    }

    /// Whether a worker polls the queue: a poll waits on it now, or one came
    /// within `recent_nanos` (a worker's poll may be between two requests).
    pub fn has_worker(&self, recent_nanos: i64) -> bool {
        !self.state.lock().waiting.is_empty() || !self.recent_pollers(recent_nanos).is_empty()
    }

    /// Takes every queued task out (nobody will poll for them here).
    pub fn drain_backlog(&self) -> Vec<PendingTask> {
        self.state.lock().backlog.drain(..).collect()
    }

    /// Pollers seen within `recent_nanos`.
    pub fn recent_pollers(&self, recent_nanos: i64) -> Vec<(String, PollerSeen)> {
        let cutoff = now_nanos() - recent_nanos;
        let mut pollers = self.pollers.lock();
        pollers.retain(|_, seen| seen.last_access_nanos >= cutoff);
        pollers.iter().map(|(identity, seen)| (identity.clone(), seen.clone())).collect()
    }

    /// Nothing queued, nobody waiting, nothing leased, and no poller seen
    /// within `recent_nanos`: the queue can be forgotten (it is recreated by
    /// the next poll or task).
    pub fn is_idle(&self, recent_nanos: i64) -> bool {
        self.counts() == QueueCounts::default() && self.recent_pollers(recent_nanos).is_empty()
    }

    pub fn counts(&self) -> QueueCounts {
        let state = self.state.lock();
        QueueCounts {
            waiting_pollers: state.waiting.len(),
            backlog: state.backlog.len(),
            queued_queries: state.queries.len(),
            leased: state.leased,
        }
    }

    pub fn backlog_len(&self) -> usize {
        self.state.lock().backlog.len()
    }

    /// Drops the queued tasks read from a `tasks` partition matching gave up.
    pub fn drop_partition(&self, partition: u32) {
        self.state.lock().backlog.retain(|task| task.partition != partition);
    }

    /// Removes expired tasks nobody polls for, so their offsets can be acknowledged.
    pub fn drain_expired(&self, now_nanos: i64) -> Vec<PendingTask> {
        let mut state = self.state.lock();
        let (expired, kept): (Vec<_>, Vec<_>) = state.backlog.drain(..).partition(|task| task.expired(now_nanos));
        state.backlog = kept.into();
        expired
    }
}

/// A poll waiting for a task. Dropped with a task already sent to it (the
/// send and the drop raced), it gives the task back.
struct WaitingPoller {
    queue: Arc<TaskQueue>,
    id: u64,
    receiver: oneshot::Receiver<Dispatch>,
}

impl WaitingPoller {
    async fn until(mut self, deadline: Instant) -> Option<Lease> {
        let dispatch = match tokio::time::timeout_at(deadline, &mut self.receiver).await {
            Ok(received) => received.ok(),
            Err(_) => {
                // Something sent just as the deadline passed is this poll's.
                self.receiver.close();
                self.receiver.try_recv().ok()
            }
        };
        dispatch.map(|dispatch| Lease { queue: self.queue.clone(), dispatch: Some(dispatch) })
    }
}

impl Drop for WaitingPoller {
    fn drop(&mut self) {
        self.receiver.close();
        match self.receiver.try_recv() {
            Ok(unclaimed) => self.queue.give_back(unclaimed),
            Err(_) => {
                self.queue.state.lock().waiting.remove(&self.id);
            }
        }
    }
}

/// A task or query handed to one poll. Unless the poll settles it (the engine
/// started the task, or refused it as stale), dropping the lease gives it
/// back to its queue.
pub struct Lease {
    queue: Arc<TaskQueue>,
    /// Set until settled or given back.
    dispatch: Option<Dispatch>,
}

impl Lease {
    pub fn dispatch(&self) -> &Dispatch {
        self.dispatch.as_ref().expect("a lease holds its dispatch until it is consumed")
    }

    /// The poll is done with the dispatch: it does not come back.
    pub fn settle(mut self) -> Dispatch {
        self.queue.settle();
        self.dispatch.take().expect("a lease holds its dispatch until it is consumed")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(dispatch) = self.dispatch.take() {
            self.queue.give_back(dispatch);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Poll;
    use std::time::Duration;

    use futures::poll;
    use temper_engine::time::timestamp_from_nanos;
    use temper_proto::api::query::v1::WorkflowQuery;

    use super::*;
    use crate::matching::Queries;

    fn task(offset: u64, expiry: Option<i64>) -> PendingTask {
        PendingTask {
            maybe_handed_out: false,
            record: TaskRecord { scheduled_event_id: offset as i64, expiry: expiry.map(timestamp_from_nanos), ..Default::default() },
            partition: 0,
            offset,
            read_at: std::time::SystemTime::now(),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn offset_of(lease: &Lease) -> Option<u64> {
        match lease.dispatch() {
            Dispatch::Task(task) => Some(task.offset),
            Dispatch::Query(_) => None,
        }
    }

    /// Takes the next task and settles it, as a poll the engine started does.
    async fn take_settled(queue: &Arc<TaskQueue>) -> Option<u64> {
        let lease = queue.take(soon(), |_| {}).await?;
        let offset = offset_of(&lease);
        lease.settle();
        offset
    }

    fn returned(queue: &TaskQueue) -> u64 {
        queue.returned.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_waiting_poller_gets_an_offered_task_directly() {
        let queue = Arc::new(TaskQueue::default());
        let poller = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.take(later(), |_| {}).await.map(Lease::settle) })
        };
        while queue.counts().waiting_pollers == 0 {
            tokio::task::yield_now().await;
        }
        queue.offer(task(7, None));
        assert!(matches!(poller.await.unwrap(), Some(Dispatch::Task(task)) if task.offset == 7));
        assert_eq!(queue.counts(), QueueCounts::default());
    }

    #[tokio::test]
    async fn tasks_wait_in_order_and_expired_ones_are_handed_back() {
        let queue = Arc::new(TaskQueue::default());
        queue.offer(task(1, Some(now_nanos() - 1)));
        queue.offer(task(2, None));
        queue.offer(task(3, None));
        let mut expired = Vec::new();
        let lease = queue.take(soon(), |t| expired.push(t.offset)).await.expect("a task");
        assert_eq!(offset_of(&lease), Some(2));
        assert_eq!(expired, vec![1]);
        assert_eq!(take_settled(&queue).await, Some(3));
        lease.settle();
        assert_eq!(take_settled(&queue).await, None, "nothing left: the poll ends at its deadline");
        assert_eq!(queue.counts(), QueueCounts::default(), "the poll that timed out left nothing behind");
    }

    #[tokio::test]
    async fn a_task_whose_poll_is_dropped_before_settling_comes_back_first() {
        let queue = Arc::new(TaskQueue::default());
        queue.offer(task(1, None));
        queue.offer(task(2, None));
        let lease = queue.take(soon(), |_| {}).await.expect("a task");
        assert_eq!(queue.counts().leased, 1);
        drop(lease);
        assert_eq!((queue.counts().leased, returned(&queue)), (0, 1));
        assert_eq!(take_settled(&queue).await, Some(1));
        assert_eq!(take_settled(&queue).await, Some(2));
        assert_eq!((queue.counts(), returned(&queue)), (QueueCounts::default(), 1), "settled tasks do not come back");
    }

    #[tokio::test]
    async fn a_returned_task_wakes_a_waiting_poller_at_once() {
        let queue = Arc::new(TaskQueue::default());
        queue.offer(task(1, None));
        let lease = queue.take(soon(), |_| {}).await.expect("a task");
        let mut waiting = pin!(queue.take(later(), |_| {}));
        assert!(poll!(waiting.as_mut()).is_pending());
        assert_eq!(queue.counts().waiting_pollers, 1);
        drop(lease);
        match poll!(waiting.as_mut()) {
            Poll::Ready(Some(lease)) => {
                assert_eq!(offset_of(&lease), Some(1));
                lease.settle();
            }
            _ => panic!("the waiting poller gets the returned task without waiting"),
        }
        assert_eq!((queue.counts(), returned(&queue)), (QueueCounts::default(), 1));
    }

    #[tokio::test]
    async fn a_poll_dropped_with_a_task_sent_to_it_gives_the_task_back() {
        let queue = Arc::new(TaskQueue::default());
        {
            let mut waiting = pin!(queue.take(later(), |_| {}));
            assert!(poll!(waiting.as_mut()).is_pending());
            queue.offer(task(5, None));
            assert_eq!(queue.counts().backlog, 0, "sent to the waiting poll");
        }
        assert_eq!(queue.counts(), QueueCounts { backlog: 1, ..QueueCounts::default() });
        assert_eq!(returned(&queue), 1);
        assert_eq!(take_settled(&queue).await, Some(5));
    }

    #[tokio::test]
    async fn a_poll_dropped_while_waiting_leaves_no_poller_behind() {
        let queue = Arc::new(TaskQueue::default());
        for _ in 0..100 {
            let mut waiting = pin!(queue.take(later(), |_| {}));
            assert!(poll!(waiting.as_mut()).is_pending());
        }
        assert_eq!(queue.counts(), QueueCounts::default());
        queue.offer(task(1, None));
        assert_eq!((queue.counts().backlog, returned(&queue)), (1, 0), "no gone poller swallowed the task");
    }

    #[tokio::test]
    async fn queries_go_first_unless_their_asker_gave_up() {
        let queue = Arc::new(TaskQueue::default());
        let queries = Queries::default();
        let run = RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() };
        queue.offer(task(1, None));
        let abandoned = queries.ask(queue.clone(), run.clone(), None, "q".into(), WorkflowQuery::default(), false);
        let wanted = queries.ask(queue.clone(), run, None, "q".into(), WorkflowQuery::default(), false);
        let wanted_id = wanted.task().id.clone();
        drop(abandoned);
        let lease = queue.take(soon(), |_| {}).await.expect("the query");
        assert!(matches!(lease.dispatch(), Dispatch::Query(query) if query.id == wanted_id), "the waiting query comes before the task");
        lease.settle();
        assert_eq!(take_settled(&queue).await, Some(1));
    }

    #[tokio::test]
    async fn a_queue_is_idle_only_when_empty_and_unpolled() {
        let queue = Arc::new(TaskQueue::default());
        assert!(queue.is_idle(1_000_000_000));
        queue.record_poller("worker");
        assert!(!queue.is_idle(1_000_000_000));
        assert!(queue.is_idle(-1), "a poller seen longer ago than the window does not count");
        queue.offer(task(1, None));
        assert!(!queue.is_idle(-1));
        let lease = queue.take(soon(), |_| {}).await;
        assert!(!queue.is_idle(-1), "a leased task may still come back");
        drop(lease.map(Lease::settle));
        assert!(queue.is_idle(-1));
    }
}
