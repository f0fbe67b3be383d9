//! Where the engine keeps its state, split per table.
//!
//! Shaped for Cassandra/Scylla: everything a shard commit touches
//! (shard row, mutable states, current-run pointers, timers, outbox) lives in
//! that shard's partition, so one commit is one conditional batch fenced by the
//! shard's ownership epoch. History events are immutable and keyed by run; a
//! commit writes them idempotently *before* the conditional batch that
//! references them, so a fenced commit leaves at most unreferenced events that
//! the next owner overwrites with the same ids.
//!
//! Every adapter must pass [`conformance`].

pub mod conformance;
pub mod cassandra;
pub mod embedded;
pub(crate) mod history_cache;

use async_trait::async_trait;
use temper_proto::api::history::v1::HistoryEvent;
use temper_proto::records::{
    CurrentRun, NamespaceRecord, OutboxRecord, ShardInfo, TimerTask, WorkflowMutableState,
};

use crate::log::{LogName, Offset};
pub use crate::membership::{Member, MemberRole};

pub type ShardId = u32;

/// A workflow id within a namespace: what the current-run pointer is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowKey {
    pub namespace_id: String,
    pub workflow_id: String,
}

/// One run of a workflow.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
}

impl RunKey {
    pub fn workflow(&self) -> WorkflowKey {
        WorkflowKey { namespace_id: self.namespace_id.clone(), workflow_id: self.workflow_id.clone() }
    }
}

/// Orders a shard's timers by when they fire; `id` makes the key unique and is
/// derived from what the timer is for, so writing it twice is harmless.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey {
    pub fire_time_nanos: i64,
    pub id: String,
}

impl TimerKey {
    /// The first key of all timers firing at `fire_time_nanos`.
    pub fn earliest_at(fire_time_nanos: i64) -> TimerKey {
        TimerKey { fire_time_nanos, id: String::new() }
    }

    /// The smallest key ordered after this one.
    pub fn successor(&self) -> TimerKey {
        TimerKey { fire_time_nanos: self.fire_time_nanos, id: format!("{}\0", self.id) }
    }
}

/// Everything one shard commit writes. Applied all or nothing, and only if the
/// shard's stored epoch still equals `epoch`.
#[derive(Clone, Debug, Default)]
pub struct ShardCommit {
    pub shard_id: ShardId,
    pub epoch: i64,
    /// The new applied offset of the shard's `commands` partition.
    pub applied_offset: i64,
    pub next_outbox_seq: i64,
    /// Written first, idempotently, outside the conditional batch.
    pub history: Vec<(RunKey, Vec<HistoryEvent>)>,
    /// Shared with the engine's cache, which keeps the same states once the
    /// commit is durable: a run with a large state is not copied per commit.
    pub executions: Vec<(RunKey, std::sync::Arc<WorkflowMutableState>)>,
    pub current_runs: Vec<(WorkflowKey, CurrentRun)>,
    /// No key is both added and deleted in one commit.
    pub timers_to_add: Vec<(TimerKey, TimerTask)>,
    pub timers_to_delete: Vec<TimerKey>,
    pub outbox: Vec<(i64, OutboxRecord)>,
    /// Outbox records published since, deleted by this commit: sequence
    /// numbers `from` through `through`. Riding on a commit that happens
    /// anyway saves the store one write per publication.
    pub outbox_to_delete: Option<(i64, i64)>,
    /// Runs whose retention ran out: each loses its mutable state, its
    /// history and, if it still names the run, its workflow's current-run
    /// pointer. Deleting a run that is gone already changes nothing. No run
    /// is both written and deleted in one commit.
    pub runs_to_delete: Vec<RunKey>,
}

impl ShardCommit {
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
            && self.executions.is_empty()
            && self.current_runs.is_empty()
            && self.timers_to_add.is_empty()
            && self.timers_to_delete.is_empty()
            && self.outbox.is_empty()
            && self.outbox_to_delete.is_none()
            && self.runs_to_delete.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("shard {shard_id} is owned by epoch {current}, not {expected}")]
    ShardOwnershipLost { shard_id: ShardId, expected: i64, current: i64 },
    #[error("the store was created with {stored} shards but {requested} were configured; the shard count cannot change")]
    ShardCountMismatch { stored: u32, requested: u32 },
    #[error("shard {0} does not exist")]
    NoSuchShard(ShardId),
    #[error("namespace `{0}` already exists")]
    NamespaceAlreadyExists(String),
    #[error("namespace `{0}` does not exist")]
    NamespaceNotFound(String),
    /// A conditional namespace update found another version stored: someone
    /// updated the namespace since the record was read.
    #[error("namespace `{name}` is at version {current}, not {expected}")]
    NamespaceVersionConflict { name: String, expected: i64, current: i64 },
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("store failed: {0}")]
    Storage(String),
    /// The store could not be reached, or did not answer in time. A write
    /// that fails so may or may not have been applied.
    #[error("the store is unreachable: {0}")]
    Unreachable(String),
    /// The store can never accept this write (a key or value it cannot hold);
    /// retrying cannot help.
    #[error("the store refuses the write: {0}")]
    Rejected(String),
}

impl StoreError {
    /// Whether retrying the same operation can never succeed: the data, not
    /// the store's health, is at fault.
    pub fn is_permanent(&self) -> bool {
        matches!(self, StoreError::Rejected(_) | StoreError::Corrupt(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait ShardStore: Send + Sync + 'static {
    /// Records the shard count on first use and refuses a different one later.
    async fn init_shards(&self, shard_count: u32) -> StoreResult<()>;

    /// Takes ownership of a shard: raises its epoch and returns the new row.
    /// For a process that owns every shard; leaves the owner empty.
    async fn acquire_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo>;

    /// The shard row as last decided (a serial read where the store has
    /// weaker ones): epoch, applied offset, outbox sequence and owner. A
    /// shard never taken reads as epoch 0, nothing applied, no owner.
    async fn read_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo>;

    /// Takes the shard for `owner` if its epoch is still `expected_epoch`:
    /// raises the epoch by one, records the owner and returns the new row.
    /// Otherwise `ShardOwnershipLost`: someone else took it since the read.
    async fn take_shard(&self, shard_id: ShardId, owner: &str, expected_epoch: i64) -> StoreResult<ShardInfo>;

    /// Gives the shard up: clears its owner if its epoch is still `epoch`,
    /// leaving the epoch as it is (the next owner raises it). Otherwise
    /// `ShardOwnershipLost`.
    async fn release_shard(&self, shard_id: ShardId, epoch: i64) -> StoreResult<()>;

    /// Applies a commit if the shard's epoch is still `commit.epoch`.
    async fn commit(&self, commit: ShardCommit) -> StoreResult<()>;
}

#[async_trait]
pub trait ExecutionStore: Send + Sync + 'static {
    async fn get_current_run(&self, shard_id: ShardId, workflow: &WorkflowKey) -> StoreResult<Option<CurrentRun>>;
    async fn get_execution(&self, shard_id: ShardId, run: &RunKey) -> StoreResult<Option<WorkflowMutableState>>;
}

/// A stored history event as it was encoded: reads that only pass events on
/// (to a client) skip decoding them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    pub event_id: i64,
    pub encoded: bytes::Bytes,
}

#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Events of a run with ids at or above `first_event_id`, ascending, at
    /// most `max_events`, as stored.
    async fn read_raw_history(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> StoreResult<Vec<RawEvent>>;

    /// The same events, decoded.
    async fn read_history(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> StoreResult<Vec<HistoryEvent>> {
        use prost::Message;
        let raw = self.read_raw_history(run, first_event_id, max_events).await?;
        raw.into_iter()
            .map(|event| {
                HistoryEvent::decode(event.encoded)
                    .map_err(|e| StoreError::Corrupt(format!("history event {} of run {}: {e}", event.event_id, run.run_id)))
            })
            .collect()
    }
}

#[async_trait]
pub trait TimerStore: Send + Sync + 'static {
    /// Timers of a shard with keys at or after `from` and firing before
    /// `before_nanos`, in key order (earliest first, then by id), at most
    /// `limit`. The lower bound is a whole key so a refill can skip what was
    /// loaded already, even in the middle of timers sharing one fire time.
    async fn load_timers(&self, shard_id: ShardId, from: &TimerKey, before_nanos: i64, limit: usize)
    -> StoreResult<Vec<(TimerKey, TimerTask)>>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Outbox records of a shard with sequence numbers at or above `from_seq`, ascending.
    /// Published records are deleted by a commit (`ShardCommit::outbox_to_delete`).
    async fn read_outbox(&self, shard_id: ShardId, from_seq: i64, limit: usize) -> StoreResult<Vec<(i64, OutboxRecord)>>;
}

#[async_trait]
pub trait NamespaceStore: Send + Sync + 'static {
    /// Creates a namespace; fails with `NamespaceAlreadyExists` if the name is taken.
    async fn create_namespace(&self, namespace: NamespaceRecord) -> StoreResult<()>;
    async fn get_namespace_by_name(&self, name: &str) -> StoreResult<Option<NamespaceRecord>>;
    async fn get_namespace_by_id(&self, id: &str) -> StoreResult<Option<NamespaceRecord>>;
    /// All namespaces, ordered by name.
    async fn list_namespaces(&self) -> StoreResult<Vec<NamespaceRecord>>;
    /// Replaces the record of the namespace named `namespace.name` if the
    /// stored record has the same id and still `version == expected_version`;
    /// stores it with `version = expected_version + 1` and returns it as
    /// stored. A namespace's id never changes, its name only by
    /// `rename_namespace`. Fails with
    /// `NamespaceNotFound` if no namespace has the name, and with
    /// `NamespaceVersionConflict` (storing nothing) if the stored record is
    /// another version or another namespace's: the caller reads it again
    /// and redoes its change, so concurrent updates never lose one another.
    async fn update_namespace(&self, namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord>;
    /// Like `update_namespace` for the namespace named `from`, storing it
    /// under `namespace.name` instead, in one write (how a deleted namespace
    /// frees its name, as Temporal's does). Fails with
    /// `NamespaceAlreadyExists` if another namespace has the new name.
    async fn rename_namespace(&self, from: &str, namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord>;
    /// Removes the namespace named `name` if the stored record still has `id`
    /// and `expected_version` (else `NamespaceVersionConflict`, or
    /// `NamespaceNotFound` if no namespace has the name).
    async fn delete_namespace(&self, name: &str, id: &str, expected_version: i64) -> StoreResult<()>;
}

/// How far a named consumer (matching, a projection) got in a log partition.
#[async_trait]
pub trait ConsumerOffsetStore: Send + Sync + 'static {
    async fn get_consumer_offset(&self, consumer: &str, log: LogName, partition: u32) -> StoreResult<Option<Offset>>;
    async fn set_consumer_offset(&self, consumer: &str, log: LogName, partition: u32, offset: Offset)
    -> StoreResult<()>;
}

/// Heartbeat rows of the cluster's members (see [`crate::membership`]).
#[async_trait]
pub trait MembershipStore: Send + Sync + 'static {
    /// Writes (or renews) the member's row, live until `expires_at_nanos`.
    async fn heartbeat(&self, member: &Member, expires_at_nanos: i64) -> StoreResult<()>;

    /// Members of `role` whose rows expire after `now_nanos`, sorted by id.
    async fn live_members(&self, role: MemberRole, now_nanos: i64) -> StoreResult<Vec<Member>>;

    /// Deletes the member's row.
    async fn leave(&self, member: &Member) -> StoreResult<()>;
}

/// What an adapter asked of a database over the network since it connected,
/// to measure what a workflow costs there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreTraffic {
    /// Requests sent, a batch counting once (the driver's own count).
    pub requests: u64,
    /// Of those, conditional writes (lightweight transactions): shard
    /// commits, shard acquisitions, unique names.
    pub conditional_writes: u64,
    /// Requests the driver's retry policy sent again.
    pub retries: u64,
    pub errors: u64,
}

impl StoreTraffic {
    /// What was asked between `earlier` and this count.
    pub fn since(&self, earlier: &StoreTraffic) -> StoreTraffic {
        StoreTraffic {
            requests: self.requests.saturating_sub(earlier.requests),
            conditional_writes: self.conditional_writes.saturating_sub(earlier.conditional_writes),
            retries: self.retries.saturating_sub(earlier.retries),
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }
}

pub trait TrafficReport: Send + Sync + 'static {
    /// `None` for a store in the process: it has no round trips to count.
    fn traffic(&self) -> Option<StoreTraffic> {
        None
    }
}

pub trait Store:
    ShardStore
    + ExecutionStore
    + HistoryStore
    + TimerStore
    + OutboxStore
    + NamespaceStore
    + ConsumerOffsetStore
    + MembershipStore
    + TrafficReport
{
}

impl<T> Store for T where
    T: ShardStore
        + ExecutionStore
        + HistoryStore
        + TimerStore
        + OutboxStore
        + NamespaceStore
        + ConsumerOffsetStore
        + MembershipStore
        + TrafficReport
{
}
