//! Task-queue matching: consumes the `tasks` log, keeps each task queue's
//! backlog and waiting pollers, and delivers queries. Handing a task to a
//! poller is confirmed by the engine (RecordWorkflowTaskStarted /
//! RecordActivityTaskStarted) before the poller gets it; see the poll handlers.
//! Until then the poll holds the task as a [`Lease`], which puts it back in
//! its queue if the poll is dropped; see `queue`.

mod acks;
pub mod metrics;
pub mod queries;
mod queue;
pub mod routing;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use prost::Message;
use temper_engine::log::{Log, LogError, LogName};
use temper_engine::partitioning::task_partition_of;
use temper_engine::store::{RunKey, Store};
use temper_engine::time::now_nanos;
use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::query::v1::WorkflowQuery;
use temper_proto::records::{TaskKind, TaskRecord};
use tokio::sync::{mpsc, watch};

use acks::AckTracker;
pub use queries::{AskedQuery, QueryAnswer, QueryTask, Queries};
pub use queue::{Dispatch, Lease, PendingTask, QueueCounts, TaskQueue};

/// The consumer name under which matching's ack levels are stored.
const CONSUMER: &str = "matching";
const READ_BATCH: usize = 1000;
const ACK_INTERVAL: Duration = Duration::from_secs(2);
/// A queue nobody polled for this long, with nothing in it, is forgotten.
const IDLE_QUEUE_NANOS: i64 = 10 * 60 * 1_000_000_000;
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// A sticky queue nobody waits on and nobody polled for this long has lost
/// its worker (Temporal's `stickyPollerUnavailableWindow`).
pub const STICKY_WORKER_GONE_NANOS: i64 = 10_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueKey {
    pub namespace_id: String,
    pub name: String,
    pub kind: TaskKind,
}

/// What matching holds, over all queues: what clients that give up must
/// not leave behind. `returned` only grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchingCounts {
    pub queues: usize,
    pub waiting_pollers: usize,
    pub backlog: usize,
    pub queued_queries: usize,
    /// Queries whose asker waits for an answer.
    pub pending_queries: usize,
    /// Tasks and queries handed to polls that have not settled them yet.
    pub leased: usize,
    /// Tasks and queries given back unsettled: their poll was dropped, or
    /// asking the engine to start the task failed.
    pub returned: u64,
    /// Tasks read from the `tasks` log that matching is not done with: each
    /// is queued or leased, else it was lost (and holds the log's ack level back).
    pub outstanding_tasks: usize,
}

pub struct Matching {
    queues: DashMap<QueueKey, Arc<TaskQueue>>,
    /// Set while the gateway shuts down: polls are answered empty at once.
    draining: std::sync::atomic::AtomicBool,
    partitions: Vec<Mutex<PartitionAcks>>,
    pub queries: Queries,
    returned: Arc<AtomicU64>,
    log: Arc<dyn Log>,
    store: Arc<dyn Store>,
    /// Workflow tasks for sticky queues whose worker is gone, for the
    /// gateway to hand back to the engine (see [`Matching::take_sticky_returns`]).
    sticky_returns: mpsc::UnboundedSender<TaskRecord>,
    sticky_returns_receiver: Mutex<Option<mpsc::UnboundedReceiver<TaskRecord>>>,
}

/// Where a partition stood when this gateway took it: matching reads it
/// from `level`, and a previous owner may have handed out the tasks below
/// `end` already (it stores its level only now and then, and a gateway
/// that crashed or lost the partition never stores its last).
#[derive(Clone, Copy)]
struct Takeover {
    level: u64,
    end: u64,
}

/// How far matching is done with one `tasks` partition, while it owns it.
#[derive(Default)]
struct PartitionAcks {
    owned: bool,
    tracker: AckTracker,
    /// The level last stored, to skip storing it again.
    stored: Option<u64>,
}

impl Matching {
    /// Owns every `tasks` partition (one gateway: the single-process layout),
    /// resuming each from its stored ack level, until `shutdown` turns true.
    pub async fn start(log: Arc<dyn Log>, store: Arc<dyn Store>, shutdown: watch::Receiver<bool>) -> Result<Arc<Matching>, temper_engine::store::StoreError> {
        let all: BTreeSet<u32> = (0..log.layout().tasks).collect();
        // Fails fast on a store that cannot be read, as a server start should.
        for &partition in &all {
            store.get_consumer_offset(CONSUMER, LogName::Tasks, partition).await?;
        }
        let (_, owned) = watch::channel(all);
        Ok(Matching::start_owning(log, store, shutdown, owned))
    }

    /// Consumes the `tasks` partitions `owned` names, following it as it
    /// changes: a partition given up stops being read, its queued tasks are
    /// dropped (its next owner reads them again from the stored ack level)
    /// and its ack level is stored one last time.
    pub fn start_owning(
        log: Arc<dyn Log>,
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
        owned: watch::Receiver<BTreeSet<u32>>,
    ) -> Arc<Matching> {
        let partitions = (0..log.layout().tasks).map(|_| Mutex::default()).collect();
        let (sticky_returns, receiver) = mpsc::unbounded_channel();
        let matching = Arc::new(Matching {
            queues: DashMap::new(),
            draining: Default::default(),
            partitions,
            queries: Queries::default(),
            returned: Arc::default(),
            log,
            store,
            sticky_returns,
            sticky_returns_receiver: Mutex::new(Some(receiver)),
        });
        tokio::spawn(matching.clone().follow_ownership(owned, shutdown.clone()));
        tokio::spawn(matching.clone().maintain(shutdown));
        matching
    }

    /// Offers a query to a queue's pollers; it is withdrawn when the returned
    /// guard is dropped. Like tasks and pollers, it reaches the queue while
    /// the map entry is held, so an idle-queue sweep cannot orphan it.
    pub fn ask(
        &self,
        key: QueueKey,
        run: RunKey,
        workflow_type: Option<WorkflowType>,
        query: WorkflowQuery,
    ) -> AskedQuery<'_> {
        let task_queue = key.name.clone();
        let queue = self.queue_entry(key);
        self.queries.ask(queue.clone(), run, workflow_type, task_queue, query, false)
    }

    /// Offers a query to the sticky queue `key` of the worker that has the
    /// run cached; `normal_queue` is the workflow's own.
    pub fn ask_sticky(
        &self,
        key: QueueKey,
        normal_queue: String,
        run: RunKey,
        workflow_type: Option<WorkflowType>,
        query: WorkflowQuery,
    ) -> AskedQuery<'_> {
        let queue = self.queue_entry(key);
        self.queries.ask(queue.clone(), run, workflow_type, normal_queue, query, true)
    }

    /// Whether a worker polls the queue `key` on this gateway: one waits on
    /// it now, or polled within `within_nanos`.
    pub fn has_worker(&self, key: &QueueKey, within_nanos: i64) -> bool {
        self.existing_queue(key).is_some_and(|queue| queue.has_worker(within_nanos))
    }

    /// The workflow tasks matching found on sticky queues whose worker is
    /// gone (see [`TaskRecord::sticky`]): the gateway asks the engine to move
    /// each to its normal queue (ResetStickyTaskQueue), as Temporal's history
    /// does on matching's StickyWorkerUnavailable, instead of letting it wait
    /// out its sticky schedule-to-start timeout. Taken once.
    pub fn take_sticky_returns(&self) -> Option<mpsc::UnboundedReceiver<TaskRecord>> {
        self.sticky_returns_receiver.lock().take()
    }

    /// A sticky queue's worker shut down (ShutdownWorker): its waiting polls
    /// are answered empty, it no longer counts as polled, and the tasks queued
    /// on it go back to the engine.
    pub fn shut_down_sticky_queue(&self, key: &QueueKey) {
        let Some(queue) = self.existing_queue(key) else { return };
        queue.release_pollers();
        queue.forget_pollers();
        for task in queue.drain_backlog() {
            self.return_sticky(task);
        }
    }

    fn return_sticky(&self, task: PendingTask) {
        self.done(&task);
        let _ = self.sticky_returns.send(task.record);
    }

    /// The gateway is shutting down: waiting polls are answered empty now,
    /// and later ones at once, so workers poll another gateway.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        let queues: Vec<Arc<TaskQueue>> = self.queues.iter().map(|entry| entry.value().clone()).collect();
        for queue in queues {
            queue.release_pollers();
        }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The queue a poller waits on, marked as polled while the map entry is
    /// held, so an idle-queue sweep cannot drop it in between.
    pub fn queue_for_poller(&self, key: QueueKey, identity: &str) -> Arc<TaskQueue> {
        let entry = self.queue_entry(key);
        entry.record_poller(identity);
        entry.clone()
    }

    fn queue_entry(&self, key: QueueKey) -> dashmap::mapref::one::RefMut<'_, QueueKey, Arc<TaskQueue>> {
        self.queues.entry(key).or_insert_with(|| Arc::new(TaskQueue::counting_returns_in(self.returned.clone())))
    }

    pub fn existing_queue(&self, key: &QueueKey) -> Option<Arc<TaskQueue>> {
        self.queues.get(key).map(|queue| queue.clone())
    }

    /// The poll is done with what it was handed (the engine started the task
    /// or refused it as stale): it does not come back, and its offset is done.
    pub fn settle(&self, lease: Lease) {
        if let Dispatch::Task(task) = lease.settle() {
            self.done(&task);
        }
    }

    /// Totals over all queues; see [`MatchingCounts`].
    pub fn counts(&self) -> MatchingCounts {
        let mut totals = MatchingCounts {
            pending_queries: self.queries.pending(),
            returned: self.returned.load(Ordering::Relaxed),
            outstanding_tasks: self.partitions.iter().map(|acks| acks.lock().tracker.outstanding()).sum(),
            ..MatchingCounts::default()
        };
        for (_, counts) in self.queue_counts() {
            totals.queues += 1;
            totals.waiting_pollers += counts.waiting_pollers;
            totals.backlog += counts.backlog;
            totals.queued_queries += counts.queued_queries;
            totals.leased += counts.leased;
        }
        totals
    }

    /// What each queue holds.
    pub fn queue_counts(&self) -> Vec<(QueueKey, QueueCounts)> {
        let queues: Vec<(QueueKey, Arc<TaskQueue>)> = self.queues.iter().map(|entry| (entry.key().clone(), entry.value().clone())).collect();
        queues.into_iter().map(|(key, queue)| (key, queue.counts())).collect()
    }

    /// The queues with a backlog: each one's length and whether it is sticky.
    pub fn queue_backlogs(&self) -> Vec<(QueueKey, usize, bool)> {
        let queues: Vec<(QueueKey, Arc<TaskQueue>)> = self.queues.iter().map(|entry| (entry.key().clone(), entry.value().clone())).collect();
        queues
            .into_iter()
            .map(|(key, queue)| (key, queue.backlog_len(), queue.is_sticky()))
            .filter(|(_, backlog, _)| *backlog > 0)
            .collect()
    }

    /// Matching is done with a task: handed out, refused as stale, or expired.
    pub fn done(&self, task: &PendingTask) {
        if let Some(acks) = self.partitions.get(task.partition as usize) {
            acks.lock().tracker.done(task.offset);
        }
    }

    async fn follow_ownership(self: Arc<Self>, mut owned: watch::Receiver<BTreeSet<u32>>, mut shutdown: watch::Receiver<bool>) {
        let mut readers: HashMap<u32, watch::Sender<bool>> = HashMap::new();
        loop {
            let wanted = owned.borrow_and_update().clone();
            let given_up: Vec<u32> = readers.keys().copied().filter(|partition| !wanted.contains(partition)).collect();
            for partition in given_up {
                if let Some(stop) = readers.remove(&partition) {
                    let _ = stop.send(true);
                }
                self.give_up(partition).await;
            }
            let taken: Vec<u32> = wanted.iter().copied().filter(|partition| !readers.contains_key(partition)).collect();
            for partition in taken {
                let Some(takeover) = self.take(partition, &mut shutdown).await else { return };
                let (stop, stopped) = watch::channel(false);
                readers.insert(partition, stop);
                tokio::spawn(self.clone().consume(partition, takeover, stopped, shutdown.clone()));
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                changed = owned.changed() => if changed.is_err() {
                    // Ownership is fixed from now on; keep serving until shut down.
                    let _ = shutdown.changed().await;
                    return;
                },
            }
        }
    }

    /// Starts owning a partition at its stored ack level, retrying while the
    /// store or the log fails; `None` once shut down.
    async fn take(&self, partition: u32, shutdown: &mut watch::Receiver<bool>) -> Option<Takeover> {
        loop {
            match self.takeover(partition).await {
                Ok(takeover) => {
                    *self.partitions[partition as usize].lock() =
                        PartitionAcks { owned: true, tracker: AckTracker::starting_at(takeover.level), stored: Some(takeover.level) };
                    tracing::info!(partition, level = takeover.level, end = takeover.end, "matching took a tasks partition");
                    return Some(takeover);
                }
                Err(error) => tracing::warn!(partition, %error, "reading where matching stands in a tasks partition failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.changed() => return None,
                _ = tokio::time::sleep(RETRY_PAUSE) => {}
            }
        }
    }

    async fn takeover(&self, partition: u32) -> Result<Takeover, String> {
        let level = self.store.get_consumer_offset(CONSUMER, LogName::Tasks, partition).await.map_err(|error| error.to_string())?;
        let end = self.log.end_offset(LogName::Tasks, partition).await.map_err(|error| error.to_string())?;
        Ok(Takeover { level: level.unwrap_or(0), end })
    }

    /// Stops owning a partition: its queued tasks go (the next owner reads
    /// them again; one already started is refused by the engine as stale),
    /// the polls waiting on its queues are answered empty (polled again,
    /// they are forwarded to the new owner instead of waiting here for
    /// tasks that no longer come), and how far it got is stored.
    async fn give_up(&self, partition: u32) {
        let level = {
            let mut acks = self.partitions[partition as usize].lock();
            acks.owned = false;
            acks.tracker.ack_level()
        };
        let partitions = self.partitions.len() as u32;
        let queues: Vec<(QueueKey, Arc<TaskQueue>)> = self.queues.iter().map(|entry| (entry.key().clone(), entry.value().clone())).collect();
        for (key, queue) in queues {
            if task_partition_of(&key.namespace_id, &key.name, partitions) == partition {
                queue.drop_partition(partition);
                queue.release_pollers();
            }
        }
        if let Err(error) = self.store.set_consumer_offset(CONSUMER, LogName::Tasks, partition, level).await {
            tracing::warn!(partition, %error, "storing matching's ack level of a partition given up failed");
        }
        tracing::info!(partition, level, "matching gave up a tasks partition");
    }

    async fn consume(self: Arc<Self>, partition: u32, takeover: Takeover, mut stop: watch::Receiver<bool>, mut shutdown: watch::Receiver<bool>) {
        let mut next = takeover.level;
        loop {
            let records = tokio::select! {
                _ = shutdown.changed() => return,
                _ = stop.changed() => return,
                records = self.log.read(LogName::Tasks, partition, next, READ_BATCH) => records,
            };
            let records = match records {
                Ok(records) => records,
                Err(LogError::Trimmed { oldest, .. }) if oldest > next => {
                    // Ownership moves are seen by the gateways at slightly
                    // different times, so the previous owner may still trim
                    // after this one started at the stored ack level; it
                    // trims only below its own ack level, behind tasks it
                    // was done with, so nothing below `oldest` is due.
                    tracing::info!(partition, from = next, to = oldest, "skipping tasks a previous owner finished and trimmed");
                    self.partitions[partition as usize].lock().tracker.skip_to(oldest);
                    next = oldest;
                    continue;
                }
                Err(error) => {
                    tracing::error!(partition, %error, "reading the tasks log failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            };
            if *stop.borrow() {
                return;
            }
            for record in records {
                next = record.offset + 1;
                match TaskRecord::decode(record.payload.as_ref()) {
                    Ok(task) => self.route(PendingTask {
                        record: task,
                        partition,
                        offset: record.offset,
                        maybe_handed_out: record.offset < takeover.end,
                        read_at: std::time::SystemTime::now(),
                    }),
                    Err(error) => tracing::error!(partition, offset = record.offset, %error, "skipping an undecodable task"),
                }
            }
        }
    }

    fn route(&self, task: PendingTask) {
        // Recorded as outstanding before a poller can possibly finish it.
        self.partitions[task.partition as usize].lock().tracker.read(task.offset);
        if task.expired(now_nanos()) {
            self.done(&task);
            return;
        }
        let key = QueueKey {
            namespace_id: task.record.namespace_id.clone(),
            name: task.record.task_queue.clone(),
            kind: task.record.kind(),
        };
        if task.record.sticky && !self.has_worker(&key, STICKY_WORKER_GONE_NANOS) {
            return self.return_sticky(task);
        }
        self.queue_entry(key).offer(task);
    }

    /// Periodically drops expired tasks and stores how far each owned
    /// partition is done, trimming the log behind it.
    async fn maintain(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(ACK_INTERVAL) => {}
            }
            let now = now_nanos();
            let queues: Vec<Arc<TaskQueue>> = self.queues.iter().map(|entry| entry.value().clone()).collect();
            for queue in queues {
                for task in queue.drain_expired(now) {
                    self.done(&task);
                }
            }
            // Sticky queues are per worker process; without this every
            // restarted worker would leave one behind.
            self.queues.retain(|_, queue| !queue.is_idle(IDLE_QUEUE_NANOS));
            self.store_ack_levels().await;
        }
    }

    /// Stores how far each owned partition is done (and trims the log
    /// behind it): a gateway stopping does so last, so whoever takes its
    /// partitions next reads again only what was still under way.
    pub async fn store_ack_levels(&self) {
        for partition in 0..self.partitions.len() as u32 {
            self.store_ack_level(partition).await;
        }
    }

    async fn store_ack_level(&self, partition: u32) {
        let level = {
            let acks = self.partitions[partition as usize].lock();
            let level = acks.tracker.ack_level();
            if !acks.owned || acks.stored == Some(level) {
                return;
            }
            level
        };
        match self.store.set_consumer_offset(CONSUMER, LogName::Tasks, partition, level).await {
            Ok(()) => {
                self.partitions[partition as usize].lock().stored = Some(level);
                if let Err(error) = self.log.trim(LogName::Tasks, partition, level).await {
                    tracing::warn!(partition, %error, "trimming the tasks log failed");
                }
            }
            Err(error) => tracing::warn!(partition, %error, "storing matching's ack level failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use temper_engine::embedded_db::EmbeddedDb;

    use super::*;

    fn record(n: i64, queue: &str) -> TaskRecord {
        TaskRecord {
            namespace_id: "ns".into(),
            task_queue: queue.into(),
            kind: TaskKind::Workflow as i32,
            workflow_id: format!("wf-{n}"),
            run_id: format!("run-{n}"),
            scheduled_event_id: 2,
            attempt: 1,
            ..Default::default()
        }
    }

    fn task(n: i64) -> bytes::Bytes {
        record(n, "queue").encode_to_vec().into()
    }

    fn sticky_task(n: i64, queue: &str) -> bytes::Bytes {
        TaskRecord { sticky: true, ..record(n, queue) }.encode_to_vec().into()
    }

    async fn until(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A sticky task for a queue nobody polls goes back to the engine at
    /// once (done in matching); one for a polled queue waits there, until
    /// its worker shuts down, which sends it back too.
    #[tokio::test]
    async fn sticky_tasks_whose_worker_is_gone_are_handed_back() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        let (_stop, stopped) = watch::channel(false);
        let matching = Matching::start(log.clone(), store, stopped).await.expect("matching started");
        let mut returns = matching.take_sticky_returns().expect("taken once");
        assert!(matching.take_sticky_returns().is_none());
        let polled = QueueKey { namespace_id: "ns".into(), name: "sticky-polled".into(), kind: TaskKind::Workflow };
        matching.queue_for_poller(polled.clone(), "worker");

        log.append(LogName::Tasks, 0, vec![sticky_task(1, "sticky-abandoned"), sticky_task(2, "sticky-polled")]).await.expect("appended");
        let returned = tokio::time::timeout(Duration::from_secs(10), returns.recv()).await.expect("handed back").expect("a task");
        assert_eq!(returned.run_id, "run-1");
        until("the polled queue's task to be queued", || matching.counts().backlog == 1).await;
        assert_eq!(matching.counts().outstanding_tasks, 1, "the handed-back task is done");

        matching.shut_down_sticky_queue(&polled);
        let returned = tokio::time::timeout(Duration::from_secs(10), returns.recv()).await.expect("handed back").expect("a task");
        assert_eq!((returned.run_id.as_str(), matching.counts().backlog), ("run-2", 0));
        assert_eq!(matching.counts().outstanding_tasks, 0);
        assert!(!matching.has_worker(&polled, STICKY_WORKER_GONE_NANOS), "a shut-down worker no longer counts");
    }

    /// A gateway giving a partition up answers the polls waiting on its
    /// queues, so they poll again where the partition went.
    #[tokio::test]
    async fn polls_waiting_on_a_partition_given_up_are_answered_at_once() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        let (_stop, stopped) = watch::channel(false);
        let (owned, owning) = watch::channel(BTreeSet::from([0]));
        let matching = Matching::start_owning(log, store, stopped, owning);
        let key = QueueKey { namespace_id: "ns".into(), name: "queue".into(), kind: TaskKind::Workflow };
        let queue = matching.queue_for_poller(key, "worker");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let poll = tokio::spawn(async move { queue.take(deadline, |_| {}).await.is_some() });
        while matching.counts().waiting_pollers == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        owned.send(BTreeSet::new()).expect("ownership followed");
        let answered = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("the poll is answered at once");
        assert!(!answered.expect("the poll task"), "answered empty: there is no task");
    }

    /// A gateway taking a partition starts at the stored ack level; the
    /// previous owner, not yet aware it lost the partition, may trim beyond
    /// that. The new owner must read on from what is left, not stall.
    #[tokio::test]
    async fn a_partition_trimmed_past_the_stored_ack_level_is_read_on_from_its_oldest_record() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        log.append(LogName::Tasks, 0, (0..10).map(task).collect()).await.expect("tasks appended");
        store.set_consumer_offset(CONSUMER, LogName::Tasks, 0, 2).await.expect("ack level stored");
        log.trim(LogName::Tasks, 0, 6).await.expect("trimmed by the previous owner");

        let (_stop, stopped) = watch::channel(false);
        let matching = Matching::start(log, store, stopped).await.expect("matching started");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while matching.counts().backlog < 4 {
            assert!(tokio::time::Instant::now() < deadline, "the tasks after the trim were never read: {:?}", matching.counts());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(matching.counts().backlog, 4, "tasks 6 to 9, each once");
        assert_eq!(matching.partitions[0].lock().tracker.ack_level(), 6, "the skipped tasks count as done, the read ones not");
    }

    /// Tasks below where the partition ended when this gateway took it may
    /// have been handed out by its previous owner: they are marked so, for
    /// the poll to check their run before asking the engine; later ones are
    /// not. And what matching is done with is stored when asked (as a
    /// stopping gateway does), so the next owner starts from there.
    #[tokio::test]
    async fn tasks_a_previous_owner_may_have_handed_out_are_marked_and_the_level_is_stored_on_demand() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        log.append(LogName::Tasks, 0, (0..3).map(task).collect()).await.expect("tasks appended");
        let (_stop, stopped) = watch::channel(false);
        let (_owned, owning) = watch::channel(BTreeSet::from([0]));
        let matching = Matching::start_owning(log.clone(), store.clone(), stopped, owning);
        let key = QueueKey { namespace_id: "ns".into(), name: "queue".into(), kind: TaskKind::Workflow };
        let queue = matching.queue_for_poller(key, "worker");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut marks = Vec::new();
        for n in 0..4 {
            if n == 3 {
                log.append(LogName::Tasks, 0, vec![task(3)]).await.expect("a task appended after the takeover");
            }
            let lease = queue.take(deadline, |_| {}).await.expect("a task");
            let Dispatch::Task(task) = lease.dispatch() else { panic!("a task, not a query") };
            marks.push((task.offset, task.maybe_handed_out));
            if n < 2 {
                matching.settle(lease);
            } else {
                // Still under way when the gateway stops: read again by the next owner.
                std::mem::forget(lease);
            }
        }
        assert_eq!(marks, vec![(0, true), (1, true), (2, true), (3, false)]);

        matching.store_ack_levels().await;
        assert_eq!(store.get_consumer_offset(CONSUMER, LogName::Tasks, 0).await.expect("level read"), Some(2));
    }
}
