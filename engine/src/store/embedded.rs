//! The store in the embedded database, for single-process deployments.
//!
//! Key layouts (see [`crate::embedded_db::keys`] for the encoding):
//! - `meta`: "shard_count" -> u32
//! - `shards`: shard -> ShardInfo
//! - `executions`: shard, namespace id, workflow id, run id -> WorkflowMutableState
//! - `current_runs`: shard, namespace id, workflow id -> CurrentRun
//! - `history`: namespace id, workflow id, run id, event id -> HistoryEvent
//! - `timers`: shard, fire time, timer id -> TimerTask
//! - `outbox`: shard, sequence number -> OutboxRecord
//! - `namespaces`: name -> NamespaceRecord; `namespace_ids`: id -> name
//! - `consumer_offsets`: consumer, log name, partition -> offset
//! - `members`: role, member id (raw, so ids sort as strings) -> expiry,
//!   address
//!
//! A shard commit is one fjall batch, history included, so it is stronger than
//! the contract asks: nothing of a fenced commit is written at all.
//!
//! Every write runs on the database's writer thread; checks that must be
//! atomic with a write (the epoch, a taken namespace name, a namespace's
//! version) run there too. Encoding happens on the caller's thread.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use fjall::{Keyspace, Slice};
use prost::Message;
use temper_proto::records::{
    CurrentRun, NamespaceRecord, OutboxRecord, ShardInfo, TimerTask, WorkflowMutableState,
};

use super::history_cache::HistoryCache;
use super::{
    RawEvent, Member, MemberRole, MembershipStore,
    ConsumerOffsetStore, ExecutionStore, HistoryStore, NamespaceStore, OutboxStore, RunKey, ShardCommit, ShardId,
    ShardStore, StoreError, StoreResult, TimerKey, TimerStore, WorkflowKey,
};
use crate::embedded_db::keys::{Key, KeyReader, past_prefix, with_prefix};
use crate::embedded_db::{Batch, EmbeddedDb, EmbeddedDbError, Writer};
use crate::log::{LogName, Offset};

impl From<EmbeddedDbError> for StoreError {
    fn from(error: EmbeddedDbError) -> Self {
        match error {
            EmbeddedDbError::Refused(message) => StoreError::Rejected(message),
            other => StoreError::Storage(other.to_string()),
        }
    }
}

/// A [`super::Store`] kept in an [`EmbeddedDb`].
pub struct EmbeddedStore {
    db: Arc<EmbeddedDb>,
    /// Histories of recently active runs, so hot reads skip the database.
    recent_history: HistoryCache,
}

impl EmbeddedStore {
    pub fn new(db: Arc<EmbeddedDb>) -> EmbeddedStore {
        EmbeddedStore { db, recent_history: HistoryCache::default() }
    }

    fn get<M: Message + Default>(&self, table: &Keyspace, key: &[u8], what: &str) -> StoreResult<Option<M>> {
        self.db.get(table, key)?.map(|value| decode(what, &value)).transpose()
    }

    fn scan<M: Message + Default>(
        &self,
        table: &Keyspace,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        limit: usize,
        what: &str,
    ) -> StoreResult<Vec<(Slice, M)>> {
        let entries = self.db.scan(table, range, limit)?;
        entries.into_iter().map(|(key, value)| Ok((key, decode(what, &value)?))).collect()
    }

    /// Everything a commit writes if its epoch holds, encoded up front, and
    /// its history events as encoded.
    fn commit_batch(&self, commit: &ShardCommit) -> StoreResult<(Batch, Vec<(RunKey, Vec<RawEvent>)>)> {
        let tables = self.db.tables();
        let mut batch = self.db.batch();
        let mut history = Vec::with_capacity(commit.history.len());
        for (run, events) in &commit.history {
            let mut encoded_events = Vec::with_capacity(events.len());
            for event in events {
                let encoded = bytes::Bytes::from(event.encode_to_vec());
                batch.insert(&tables.history, history_key(run, event.event_id), encoded.as_ref());
                encoded_events.push(RawEvent { event_id: event.event_id, encoded });
            }
            history.push((run.clone(), encoded_events));
        }
        for (run, state) in &commit.executions {
            batch.insert(&tables.executions, execution_key(commit.shard_id, run), state.encode_to_vec());
        }
        for (workflow, current) in &commit.current_runs {
            batch.insert(&tables.current_runs, current_run_key(commit.shard_id, workflow), current.encode_to_vec());
        }
        // A timer both deleted and added ends up present, as the commit's new
        // state wants; leaving both in one batch would let fjall's internals
        // decide which write wins.
        let added: HashSet<&TimerKey> = commit.timers_to_add.iter().map(|(key, _)| key).collect();
        for key in commit.timers_to_delete.iter().filter(|key| !added.contains(key)) {
            batch.remove(&tables.timers, timer_key(commit.shard_id, key));
        }
        for (key, timer) in &commit.timers_to_add {
            batch.insert(&tables.timers, timer_key(commit.shard_id, key), timer.encode_to_vec());
        }
        for (seq, record) in &commit.outbox {
            batch.insert(&tables.outbox, outbox_key(commit.shard_id, *seq), record.encode_to_vec());
        }
        // A bounded range: deleting "everything up to" would make every
        // commit pass over all earlier deletions.
        if let Some((from, through)) = commit.outbox_to_delete {
            for seq in from..=through {
                batch.remove(&tables.outbox, outbox_key(commit.shard_id, seq));
            }
        }
        for run in &commit.runs_to_delete {
            self.delete_run(&mut batch, commit.shard_id, run)?;
        }
        Ok((batch, history))
    }

    /// Removes a run's mutable state and history. Its events are found by a
    /// scan outside the writer: a deleted run is closed, so no commit adds
    /// events to it any more.
    fn delete_run(&self, batch: &mut Batch, shard_id: ShardId, run: &RunKey) -> StoreResult<()> {
        let tables = self.db.tables();
        batch.remove(&tables.executions, execution_key(shard_id, run));
        for (key, _) in self.db.scan(&tables.history, with_prefix(history_prefix(run).into_bytes()), usize::MAX)? {
            batch.remove(&tables.history, key);
        }
        Ok(())
    }
}

#[async_trait]
impl ShardStore for EmbeddedStore {
    async fn init_shards(&self, shard_count: u32) -> StoreResult<()> {
        self.db.write(move |writer| init_shards_in_writer(writer, shard_count)).await
    }

    async fn acquire_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        self.db
            .write(move |writer| {
                let shard = stored_shard(writer, shard_id)?;
                raise_epoch(writer, shard, String::new())
            })
            .await
    }

    async fn read_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        self.get(&self.db.tables().shards, &shard_key(shard_id), "shard")?.ok_or(StoreError::NoSuchShard(shard_id))
    }

    async fn take_shard(&self, shard_id: ShardId, owner: &str, expected_epoch: i64) -> StoreResult<ShardInfo> {
        let owner = owner.to_string();
        self.db
            .write(move |writer| {
                let shard = shard_at_epoch(writer, shard_id, expected_epoch)?;
                raise_epoch(writer, shard, owner)
            })
            .await
    }

    async fn release_shard(&self, shard_id: ShardId, epoch: i64) -> StoreResult<()> {
        self.db
            .write(move |writer| {
                let mut shard = shard_at_epoch(writer, shard_id, epoch)?;
                shard.owner.clear();
                let mut batch = writer.batch();
                batch.insert(&writer.tables().shards, shard_key(shard_id), shard.encode_to_vec());
                Ok(writer.commit(batch)?)
            })
            .await
    }

    async fn commit(&self, commit: ShardCommit) -> StoreResult<()> {
        let (mut batch, history) = self.commit_batch(&commit)?;
        let ShardCommit { shard_id, epoch, runs_to_delete, current_runs, applied_offset, next_outbox_seq, .. } = commit;
        let recent_history = self.recent_history.clone();
        self.db
            .write(move |writer| {
                let mut shard = shard_at_epoch(writer, shard_id, epoch)?;
                shard.applied_offset = applied_offset;
                shard.next_outbox_seq = next_outbox_seq;
                batch.insert(&writer.tables().shards, shard_key(shard_id), shard.encode_to_vec());
                let repointed: HashSet<&WorkflowKey> = current_runs.iter().map(|(workflow, _)| workflow).collect();
                for run in runs_to_delete.iter().filter(|run| !repointed.contains(&run.workflow())) {
                    remove_current_run_naming(writer, &mut batch, shard_id, run)?;
                }
                writer.commit(batch)?;
                // Only now: the cache must never hold events of a fenced commit.
                for (run, events) in history {
                    recent_history.committed(&run, events);
                }
                for run in &runs_to_delete {
                    recent_history.forget(run);
                }
                Ok(())
            })
            .await
    }
}

/// Removes a workflow's current-run pointer if it names `run`; a newer run
/// keeps its pointer. Read on the writer so no commit slips in between.
fn remove_current_run_naming(writer: &Writer, batch: &mut Batch, shard_id: ShardId, run: &RunKey) -> StoreResult<()> {
    let key = current_run_key(shard_id, &run.workflow());
    let Some(stored) = writer.get(&writer.tables().current_runs, &key)? else { return Ok(()) };
    let current: CurrentRun = decode("current run", &stored)?;
    if current.run_id == run.run_id {
        batch.remove(&writer.tables().current_runs, key);
    }
    Ok(())
}

fn init_shards_in_writer(writer: &Writer, shard_count: u32) -> StoreResult<()> {
    let tables = writer.tables();
    let count_key = shard_count_key();
    if let Some(stored) = writer.get(&tables.meta, &count_key)? {
        let stored = KeyReader::new(&stored).u32().ok_or_else(|| StoreError::Corrupt("stored shard count".into()))?;
        return if stored == shard_count {
            Ok(())
        } else {
            Err(StoreError::ShardCountMismatch { stored, requested: shard_count })
        };
    }
    let mut batch = writer.batch();
    batch.insert(&tables.meta, count_key, shard_count.to_be_bytes().to_vec());
    for shard_id in 0..shard_count {
        let shard = ShardInfo { shard_id, epoch: 0, applied_offset: -1, next_outbox_seq: 0, owner: String::new() };
        batch.insert(&tables.shards, shard_key(shard_id), shard.encode_to_vec());
    }
    Ok(writer.commit(batch)?)
}

fn stored_shard(writer: &Writer, shard_id: ShardId) -> StoreResult<ShardInfo> {
    let value = writer.get(&writer.tables().shards, &shard_key(shard_id))?.ok_or(StoreError::NoSuchShard(shard_id))?;
    decode("shard", &value)
}

/// The stored shard row if its epoch is still `epoch`: the fence of every
/// write by an owner.
fn shard_at_epoch(writer: &Writer, shard_id: ShardId, epoch: i64) -> StoreResult<ShardInfo> {
    let shard = stored_shard(writer, shard_id)?;
    if shard.epoch != epoch {
        return Err(StoreError::ShardOwnershipLost { shard_id, expected: epoch, current: shard.epoch });
    }
    Ok(shard)
}

/// Writes the shard row with its epoch raised and `owner` recorded.
fn raise_epoch(writer: &Writer, mut shard: ShardInfo, owner: String) -> StoreResult<ShardInfo> {
    shard.epoch += 1;
    shard.owner = owner;
    let mut batch = writer.batch();
    batch.insert(&writer.tables().shards, shard_key(shard.shard_id), shard.encode_to_vec());
    writer.commit(batch)?;
    Ok(shard)
}

#[async_trait]
impl ExecutionStore for EmbeddedStore {
    async fn get_current_run(&self, shard_id: ShardId, workflow: &WorkflowKey) -> StoreResult<Option<CurrentRun>> {
        self.get(&self.db.tables().current_runs, &current_run_key(shard_id, workflow), "current run")
    }

    async fn get_execution(&self, shard_id: ShardId, run: &RunKey) -> StoreResult<Option<WorkflowMutableState>> {
        self.get(&self.db.tables().executions, &execution_key(shard_id, run), "execution")
    }
}

#[async_trait]
impl HistoryStore for EmbeddedStore {
    async fn read_raw_history(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> StoreResult<Vec<RawEvent>> {
        if let Some(events) = self.recent_history.read(run, first_event_id, max_events) {
            return Ok(events);
        }
        let prefix = history_prefix(run).into_bytes();
        let range = (Bound::Included(history_key(run, first_event_id)), past_prefix(&prefix));
        let entries = self.db.scan(&self.db.tables().history, range, max_events)?;
        entries
            .into_iter()
            .map(|(key, value)| {
                let event_id = event_id_of(&key)?;
                Ok(RawEvent { event_id, encoded: bytes::Bytes::copy_from_slice(&value) })
            })
            .collect()
    }
}

/// The event id ends a history key.
fn event_id_of(key: &[u8]) -> StoreResult<i64> {
    key.get(key.len().saturating_sub(8)..)
        .and_then(|tail| KeyReader::new(tail).i64())
        .ok_or_else(|| StoreError::Corrupt(format!("history key {key:?} is too short")))
}

#[async_trait]
impl TimerStore for EmbeddedStore {
    async fn load_timers(
        &self,
        shard_id: ShardId,
        from: &TimerKey,
        before_nanos: i64,
        limit: usize,
    ) -> StoreResult<Vec<(TimerKey, TimerTask)>> {
        let range = (
            Bound::Included(timer_key(shard_id, from)),
            Bound::Excluded(Key::new().u32(shard_id).i64(before_nanos).into_bytes()),
        );
        let timers = self.scan(&self.db.tables().timers, range, limit, "timer")?;
        timers.into_iter().map(|(key, timer)| Ok((timer_key_of(&key)?, timer))).collect()
    }
}

#[async_trait]
impl OutboxStore for EmbeddedStore {
    async fn read_outbox(
        &self,
        shard_id: ShardId,
        from_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, OutboxRecord)>> {
        let range = (Bound::Included(outbox_key(shard_id, from_seq)), past_prefix(&shard_key(shard_id)));
        let records = self.scan(&self.db.tables().outbox, range, limit, "outbox record")?;
        records.into_iter().map(|(key, record)| Ok((outbox_seq_of(&key)?, record))).collect()
    }
}

#[async_trait]
impl NamespaceStore for EmbeddedStore {
    async fn create_namespace(&self, namespace: NamespaceRecord) -> StoreResult<()> {
        let encoded = namespace.encode_to_vec();
        self.db
            .write(move |writer| {
                let tables = writer.tables();
                if writer.get(&tables.namespaces, namespace.name.as_bytes())?.is_some() {
                    return Err(StoreError::NamespaceAlreadyExists(namespace.name));
                }
                let mut batch = writer.batch();
                batch.insert(&tables.namespaces, namespace.name.as_bytes().to_vec(), encoded);
                batch.insert(&tables.namespace_ids, namespace.id.into_bytes(), namespace.name.into_bytes());
                Ok(writer.commit(batch)?)
            })
            .await
    }

    async fn get_namespace_by_name(&self, name: &str) -> StoreResult<Option<NamespaceRecord>> {
        self.get(&self.db.tables().namespaces, name.as_bytes(), "namespace")
    }

    async fn get_namespace_by_id(&self, id: &str) -> StoreResult<Option<NamespaceRecord>> {
        match self.db.get(&self.db.tables().namespace_ids, id.as_bytes())? {
            Some(name) => self.get(&self.db.tables().namespaces, &name, "namespace"),
            None => Ok(None),
        }
    }

    async fn list_namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        // Keyed by the raw name, so key order is name order.
        let all = (Bound::Unbounded, Bound::Unbounded);
        let namespaces = self.scan(&self.db.tables().namespaces, all, usize::MAX, "namespace")?;
        Ok(namespaces.into_iter().map(|(_, namespace)| namespace).collect())
    }

    /// Read, compared and written by the one writer, so no other write
    /// comes between the check and the write.
    async fn update_namespace(&self, namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        let from = namespace.name.clone();
        self.rename_namespace(&from, namespace, expected_version).await
    }

    async fn rename_namespace(&self, from: &str, mut namespace: NamespaceRecord, expected_version: i64) -> StoreResult<NamespaceRecord> {
        namespace.version = expected_version + 1;
        let from = from.to_string();
        self.db
            .write(move |writer| {
                let tables = writer.tables();
                check_namespace_version(writer, &from, &namespace.id, expected_version)?;
                let mut batch = writer.batch();
                if from != namespace.name {
                    if writer.get(&tables.namespaces, namespace.name.as_bytes())?.is_some() {
                        return Err(StoreError::NamespaceAlreadyExists(namespace.name));
                    }
                    batch.remove(&tables.namespaces, from.into_bytes());
                    batch.insert(&tables.namespace_ids, namespace.id.as_bytes().to_vec(), namespace.name.as_bytes().to_vec());
                }
                batch.insert(&tables.namespaces, namespace.name.as_bytes().to_vec(), namespace.encode_to_vec());
                writer.commit(batch)?;
                Ok(namespace)
            })
            .await
    }

    async fn delete_namespace(&self, name: &str, id: &str, expected_version: i64) -> StoreResult<()> {
        let (name, id) = (name.to_string(), id.to_string());
        self.db
            .write(move |writer| {
                let tables = writer.tables();
                check_namespace_version(writer, &name, &id, expected_version)?;
                let mut batch = writer.batch();
                batch.remove(&tables.namespaces, name.into_bytes());
                batch.remove(&tables.namespace_ids, id.into_bytes());
                Ok(writer.commit(batch)?)
            })
            .await
    }
}

/// Fails unless the namespace named `name` is stored as `id` at `expected_version`.
fn check_namespace_version(writer: &Writer, name: &str, id: &str, expected_version: i64) -> StoreResult<()> {
    let tables = writer.tables();
    let Some(stored) = writer.get(&tables.namespaces, name.as_bytes())? else {
        return Err(StoreError::NamespaceNotFound(name.to_string()));
    };
    let stored = NamespaceRecord::decode(stored.as_ref()).map_err(|e| StoreError::Corrupt(format!("namespace {name}: {e}")))?;
    if stored.id != id || stored.version != expected_version {
        return Err(StoreError::NamespaceVersionConflict { name: name.to_string(), expected: expected_version, current: stored.version });
    }
    Ok(())
}

impl super::TrafficReport for EmbeddedStore {}

#[async_trait]
impl ConsumerOffsetStore for EmbeddedStore {
    async fn get_consumer_offset(&self, consumer: &str, log: LogName, partition: u32) -> StoreResult<Option<Offset>> {
        let key = consumer_offset_key(consumer, log, partition);
        match self.db.get(&self.db.tables().consumer_offsets, &key)? {
            Some(value) => KeyReader::new(&value).u64().map(Some).ok_or_else(|| corrupt("consumer offset", &value)),
            None => Ok(None),
        }
    }

    async fn set_consumer_offset(
        &self,
        consumer: &str,
        log: LogName,
        partition: u32,
        offset: Offset,
    ) -> StoreResult<()> {
        let key = consumer_offset_key(consumer, log, partition);
        self.db
            .write(move |writer| {
                let mut batch = writer.batch();
                batch.insert(&writer.tables().consumer_offsets, key, offset.to_be_bytes().to_vec());
                Ok(writer.commit(batch)?)
            })
            .await
    }
}

#[async_trait]
impl MembershipStore for EmbeddedStore {
    /// Also removes the role's rows that expired, so the rows of members
    /// that died do not pile up; each is checked again on the writer, as
    /// its member may have renewed it since the scan.
    async fn heartbeat(&self, member: &Member, expires_at_nanos: i64) -> StoreResult<()> {
        let key = member_key(member.role, &member.id);
        let value = Key::new().i64(expires_at_nanos).raw(member.address.as_bytes()).into_bytes();
        let now = crate::time::now_nanos();
        let expired: Vec<Vec<u8>> = self
            .member_rows(member.role)?
            .into_iter()
            .filter(|(_, expires_at, _)| *expires_at <= now)
            .map(|(key, _, _)| key.to_vec())
            .collect();
        self.db
            .write(move |writer| {
                let members = &writer.tables().members;
                let mut batch = writer.batch();
                for stale in expired {
                    let still_expired = match writer.get(members, &stale)? {
                        Some(row) => member_expiry(&row)? <= now,
                        None => false,
                    };
                    if still_expired && stale != key {
                        batch.remove(members, stale);
                    }
                }
                batch.insert(members, key, value);
                Ok(writer.commit(batch)?)
            })
            .await
    }

    async fn live_members(&self, role: MemberRole, now_nanos: i64) -> StoreResult<Vec<Member>> {
        let rows = self.member_rows(role)?;
        rows.into_iter()
            .filter(|(_, expires_at, _)| *expires_at > now_nanos)
            .map(|(key, _, address)| {
                let id = key.get(ROLE_PREFIX_LEN..).ok_or_else(|| corrupt("member key", &key))?;
                let id = std::str::from_utf8(id).map_err(|_| corrupt("member key", &key))?;
                Ok(Member { id: id.to_string(), role, address })
            })
            .collect()
    }

    async fn leave(&self, member: &Member) -> StoreResult<()> {
        let key = member_key(member.role, &member.id);
        self.db
            .write(move |writer| {
                let mut batch = writer.batch();
                batch.remove(&writer.tables().members, key);
                Ok(writer.commit(batch)?)
            })
            .await
    }
}

impl EmbeddedStore {
    /// Every row of a role, in id order: key, expiry and address.
    fn member_rows(&self, role: MemberRole) -> StoreResult<Vec<(Slice, i64, String)>> {
        let rows = self.db.scan(&self.db.tables().members, with_prefix(member_prefix(role)), usize::MAX)?;
        rows.into_iter()
            .map(|(key, row)| {
                let expires_at = member_expiry(&row)?;
                let address = std::str::from_utf8(&row[8..]).map_err(|_| corrupt("member row", &row))?.to_string();
                Ok((key, expires_at, address))
            })
            .collect()
    }
}

/// The role, four bytes, then the id.
const ROLE_PREFIX_LEN: usize = 4;

fn member_prefix(role: MemberRole) -> Vec<u8> {
    Key::new().u32(role.code() as u32).into_bytes()
}

/// The id is stored raw, so keys sort as the ids do.
fn member_key(role: MemberRole, id: &str) -> Vec<u8> {
    Key::new().u32(role.code() as u32).raw(id.as_bytes()).into_bytes()
}

fn member_expiry(row: &[u8]) -> StoreResult<i64> {
    KeyReader::new(row).i64().ok_or_else(|| corrupt("member row", row))
}

fn decode<M: Message + Default>(what: &str, value: &[u8]) -> StoreResult<M> {
    M::decode(value).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

fn corrupt(what: &str, bytes: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("malformed {what} {bytes:?}"))
}

fn shard_count_key() -> Vec<u8> {
    Key::new().str("shard_count").into_bytes()
}

fn shard_key(shard_id: ShardId) -> Vec<u8> {
    Key::new().u32(shard_id).into_bytes()
}

fn execution_key(shard_id: ShardId, run: &RunKey) -> Vec<u8> {
    Key::new().u32(shard_id).str(&run.namespace_id).str(&run.workflow_id).str(&run.run_id).into_bytes()
}

fn current_run_key(shard_id: ShardId, workflow: &WorkflowKey) -> Vec<u8> {
    Key::new().u32(shard_id).str(&workflow.namespace_id).str(&workflow.workflow_id).into_bytes()
}

fn history_prefix(run: &RunKey) -> Key {
    Key::new().str(&run.namespace_id).str(&run.workflow_id).str(&run.run_id)
}

fn history_key(run: &RunKey, event_id: i64) -> Vec<u8> {
    history_prefix(run).i64(event_id).into_bytes()
}

/// The id ends the key, so it is stored raw: equal fire times then order by id.
fn timer_key(shard_id: ShardId, key: &TimerKey) -> Vec<u8> {
    Key::new().u32(shard_id).i64(key.fire_time_nanos).raw(key.id.as_bytes()).into_bytes()
}

fn timer_key_of(key: &[u8]) -> StoreResult<TimerKey> {
    let mut reader = KeyReader::new(key);
    let fire_time_nanos = reader.u32().and_then(|_shard| reader.i64()).ok_or_else(|| corrupt("timer key", key))?;
    let id = std::str::from_utf8(reader.rest()).map_err(|_| corrupt("timer key", key))?;
    Ok(TimerKey { fire_time_nanos, id: id.to_string() })
}

fn outbox_key(shard_id: ShardId, seq: i64) -> Vec<u8> {
    Key::new().u32(shard_id).i64(seq).into_bytes()
}

fn outbox_seq_of(key: &[u8]) -> StoreResult<i64> {
    let mut reader = KeyReader::new(key);
    reader.u32().and_then(|_shard| reader.i64()).ok_or_else(|| corrupt("outbox key", key))
}

fn consumer_offset_key(consumer: &str, log: LogName, partition: u32) -> Vec<u8> {
    Key::new().str(consumer).str(log.as_str()).u32(partition).into_bytes()
}
