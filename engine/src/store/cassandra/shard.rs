//! The shard row and the shard commit.
//!
//! The shard row is the static columns of the shard's partition. Taking a
//! shard is a conditional update that raises its epoch; a commit is ONE
//! single-partition conditional batch whose `IF epoch = ?` fences it: every
//! row it writes or deletes (states, pointers, timers, outbox) is in that
//! partition, so Cassandra applies all of it or, when the epoch moved, none.
//!
//! Around the batch: history events are written before it (idempotent, so a
//! fenced commit leaves at most unreferenced events the next owner rewrites);
//! the histories of deleted runs are removed after it, so a fenced deletion
//! removes nothing, and the batch records each such removal as pending so a
//! crash in between orphans nothing (see `history_deletions`).

use std::collections::HashSet;

use async_trait::async_trait;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use temper_proto::records::{CurrentRun, ShardInfo, WorkflowMutableState};

use super::{CassandraError, CassandraStore, Preparer, keys, was_applied};
use crate::store::{
    RunKey, ShardCommit, ShardId, ShardStore, StoreError, StoreResult, TimerKey, WorkflowKey,
};

/// How often `acquire_shard` retries when another node took the shard
/// between its read and its conditional update.
const ACQUIRE_ATTEMPTS: usize = 10;

pub(super) struct ShardStatements {
    insert_shard_count: PreparedStatement,
    read_shard_count: PreparedStatement,
    read_shard: PreparedStatement,
    create_shard: PreparedStatement,
    raise_epoch: PreparedStatement,
    release_shard: PreparedStatement,
    commit_shard_row: PreparedStatement,
}

impl ShardStatements {
    pub(super) async fn prepare(
        preparer: &Preparer<'_>,
    ) -> Result<ShardStatements, CassandraError> {
        Ok(ShardStatements {
            insert_shard_count: preparer
                .prepare_conditional("INSERT INTO {ks}.meta (name, value) VALUES ('shard_count', ?) IF NOT EXISTS")
                .await?,
            read_shard_count: preparer
                .prepare_serial_read("SELECT value FROM {ks}.meta WHERE name = 'shard_count'")
                .await?,
            read_shard: preparer
                .prepare_serial_read(
                    "SELECT epoch, applied_offset, next_outbox_seq, owner FROM {ks}.shard WHERE shard_id = ? LIMIT 1",
                )
                .await?,
            create_shard: preparer
                .prepare_conditional(
                    "INSERT INTO {ks}.shard (shard_id, epoch, applied_offset, next_outbox_seq, owner) \
                     VALUES (?, ?, ?, ?, ?) IF NOT EXISTS",
                )
                .await?,
            raise_epoch: preparer
                .prepare_conditional("UPDATE {ks}.shard SET epoch = ?, owner = ? WHERE shard_id = ? IF epoch = ?")
                .await?,
            release_shard: preparer
                .prepare_conditional("UPDATE {ks}.shard SET owner = '' WHERE shard_id = ? IF epoch = ?")
                .await?,
            commit_shard_row: preparer
                .prepare_conditional(
                    "UPDATE {ks}.shard SET applied_offset = ?, next_outbox_seq = ? WHERE shard_id = ? IF epoch = ?",
                )
                .await?,
        })
    }
}

#[async_trait]
impl ShardStore for CassandraStore {
    async fn init_shards(&self, shard_count: u32) -> StoreResult<()> {
        let statements = &self.statements.shard;
        if self
            .applied(&statements.insert_shard_count, (i64::from(shard_count),))
            .await?
        {
            return Ok(());
        }
        match self.stored_shard_count().await? {
            Some(stored) if stored == shard_count => Ok(()),
            Some(stored) => Err(StoreError::ShardCountMismatch {
                stored,
                requested: shard_count,
            }),
            None => Err(CassandraError::UnexpectedAnswer(
                "the shard count is neither stored nor storable".into(),
            )
            .into()),
        }
    }

    /// A shard's row is created by its first acquisition, so `init_shards`
    /// writes one row however many shards there are.
    async fn acquire_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        if !self.shard_exists(shard_id).await? {
            return Err(StoreError::NoSuchShard(shard_id));
        }
        for _ in 0..ACQUIRE_ATTEMPTS {
            let expected = self.stored_shard(shard_id).await?.map_or(0, |shard| shard.epoch);
            if let Some(acquired) = self.try_taking(shard_id, "", expected).await? {
                return Ok(acquired);
            }
        }
        Err(StoreError::Storage(format!(
            "shard {shard_id}: its epoch kept changing while it was being acquired"
        )))
    }

    async fn read_shard(&self, shard_id: ShardId) -> StoreResult<ShardInfo> {
        if let Some(stored) = self.stored_shard(shard_id).await? {
            return Ok(stored);
        }
        if !self.shard_exists(shard_id).await? {
            return Err(StoreError::NoSuchShard(shard_id));
        }
        Ok(ShardInfo { shard_id, epoch: 0, applied_offset: -1, next_outbox_seq: 0, owner: String::new() })
    }

    async fn take_shard(&self, shard_id: ShardId, owner: &str, expected_epoch: i64) -> StoreResult<ShardInfo> {
        if !self.shard_exists(shard_id).await? {
            return Err(StoreError::NoSuchShard(shard_id));
        }
        match self.try_taking(shard_id, owner, expected_epoch).await? {
            Some(taken) => Ok(taken),
            None => Err(self.ownership_lost(shard_id, expected_epoch).await),
        }
    }

    async fn release_shard(&self, shard_id: ShardId, epoch: i64) -> StoreResult<()> {
        if self.applied(&self.statements.shard.release_shard, (shard_id as i32, epoch)).await? {
            return Ok(());
        }
        Err(self.ownership_lost(shard_id, epoch).await)
    }

    async fn commit(&self, commit: ShardCommit) -> StoreResult<()> {
        let written = self.write_history(&commit.history).await?;
        let deletions = self.plan_run_deletions(&commit).await?;
        let finished = self.finished_history_deletions.take(commit.shard_id);
        let batch = CommitBatch::of(self, &commit, &deletions, &finished);
        self.count_conditional_write();
        let answer = match self.session.batch(&batch.batch, batch.values).await {
            Ok(answer) => answer,
            Err(error) => {
                self.finished_history_deletions.restore(commit.shard_id, finished);
                return Err(CassandraError::from(error).into());
            }
        };
        if !was_applied(answer)? {
            self.finished_history_deletions.restore(commit.shard_id, finished);
            return Err(self.ownership_lost(commit.shard_id, commit.epoch).await);
        }
        // Only now: the cache must never hold events of a fenced commit.
        for (run, events) in written {
            self.recent_history.committed(&run, events);
        }
        for deletion in &deletions {
            self.recent_history.forget(&deletion.run);
        }
        let histories = deletions
            .into_iter()
            .filter(|deletion| !deletion.history_segments.is_empty())
            .map(|deletion| (deletion.run, deletion.history_segments))
            .collect();
        self.delete_committed_histories(commit.shard_id, histories).await;
        Ok(())
    }
}

impl CassandraStore {
    async fn stored_shard_count(&self) -> Result<Option<u32>, CassandraError> {
        let row: Option<(Option<i64>,)> = self
            .first_row(&self.statements.shard.read_shard_count, ())
            .await?;
        row.and_then(|(count,)| count)
            .map(|count| {
                u32::try_from(count)
                    .map_err(|_| CassandraError::Corrupt(format!("shard count {count}")))
            })
            .transpose()
    }

    async fn shard_exists(&self, shard_id: ShardId) -> Result<bool, CassandraError> {
        Ok(self
            .stored_shard_count()
            .await?
            .is_some_and(|count| shard_id < count))
    }

    async fn stored_shard(&self, shard_id: ShardId) -> Result<Option<ShardInfo>, CassandraError> {
        type Row = (Option<i64>, Option<i64>, Option<i64>, Option<String>);
        let row: Option<Row> = self
            .first_row(&self.statements.shard.read_shard, (shard_id as i32,))
            .await?;
        Ok(row.and_then(|(epoch, applied_offset, next_outbox_seq, owner)| {
            Some(ShardInfo {
                shard_id,
                epoch: epoch?,
                applied_offset: applied_offset.unwrap_or(-1),
                next_outbox_seq: next_outbox_seq.unwrap_or(0),
                owner: owner.unwrap_or_default(),
            })
        }))
    }

    /// Raises the shard's epoch from `expected` by one for `owner` (an empty
    /// owner for `acquire_shard`), then finishes what a previous owner left
    /// of history deletions. `None` if another owner took it first. Epoch 0
    /// is a shard whose row was never written: the first owner creates it.
    async fn try_taking(
        &self,
        shard_id: ShardId,
        owner: &str,
        expected: i64,
    ) -> Result<Option<ShardInfo>, CassandraError> {
        let statements = &self.statements.shard;
        let raised = expected + 1;
        let applied = if expected == 0 {
            let fresh = (shard_id as i32, raised, -1_i64, 0_i64, owner);
            self.applied(&statements.create_shard, fresh).await?
        } else {
            self.applied(&statements.raise_epoch, (raised, owner, shard_id as i32, expected)).await?
        };
        if !applied {
            return Ok(None);
        }
        let Some(taken) = self.shard_as_raised(shard_id, raised).await? else { return Ok(None) };
        self.finish_leftover_history_deletions(shard_id).await?;
        Ok(Some(taken))
    }

    /// The shard row read again after its epoch was raised. The row read
    /// before the raise may predate a commit of the old epoch that was still
    /// in flight (its Paxos round finished by the raise's own); only after
    /// the raise can no such commit land, so only now are the applied offset
    /// and outbox sequence final. `None` if another owner raised it since.
    async fn shard_as_raised(&self, shard_id: ShardId, epoch: i64) -> Result<Option<ShardInfo>, CassandraError> {
        let stored = self.stored_shard(shard_id).await?;
        Ok(stored.filter(|shard| shard.epoch == epoch))
    }

    /// Why a commit's condition failed: the shard moved on, or never existed.
    async fn ownership_lost(&self, shard_id: ShardId, expected: i64) -> StoreError {
        let stored = match self.stored_shard(shard_id).await {
            Ok(stored) => stored,
            Err(error) => return error.into(),
        };
        match stored {
            Some(shard) => StoreError::ShardOwnershipLost {
                shard_id,
                expected,
                current: shard.epoch,
            },
            None => match self.shard_exists(shard_id).await {
                Ok(true) => StoreError::ShardOwnershipLost {
                    shard_id,
                    expected,
                    current: 0,
                },
                Ok(false) => StoreError::NoSuchShard(shard_id),
                Err(error) => error.into(),
            },
        }
    }

    /// What deleting each run of the commit takes: its history segments (from
    /// its stored state) and whether its workflow's pointer still names it.
    async fn plan_run_deletions(
        &self,
        commit: &ShardCommit,
    ) -> Result<Vec<RunDeletion>, CassandraError> {
        let repointed: HashSet<&WorkflowKey> = commit
            .current_runs
            .iter()
            .map(|(workflow, _)| workflow)
            .collect();
        let plans = commit.runs_to_delete.iter().map(|run| {
            let keeps_pointer = repointed.contains(&run.workflow());
            self.plan_run_deletion(commit.shard_id, run, keeps_pointer)
        });
        futures::future::try_join_all(plans).await
    }

    async fn plan_run_deletion(
        &self,
        shard_id: ShardId,
        run: &RunKey,
        keeps_pointer: bool,
    ) -> Result<RunDeletion, CassandraError> {
        let state: Option<WorkflowMutableState> = self
            .get_row(shard_id, keys::EXECUTION, keys::execution(run), "execution")
            .await?;
        let next_event_id = state
            .and_then(|state| state.info)
            .map_or(0, |info| info.next_event_id);
        let pointer: Option<CurrentRun> = if keeps_pointer {
            None
        } else {
            self.get_row(
                shard_id,
                keys::CURRENT_RUN,
                keys::current_run(&run.workflow()),
                "current run",
            )
            .await?
        };
        Ok(RunDeletion {
            run: run.clone(),
            history_segments: super::history::segments_through(next_event_id),
            delete_pointer: pointer.is_some_and(|pointer| pointer.run_id == run.run_id),
        })
    }
}

struct RunDeletion {
    run: RunKey,
    history_segments: std::ops::Range<i64>,
    delete_pointer: bool,
}

type BatchValues = Vec<Box<dyn SerializeRow + Send + Sync>>;

/// The commit's conditional batch and the values of its statements.
struct CommitBatch {
    batch: Batch,
    values: BatchValues,
}

impl CommitBatch {
    fn of(
        store: &CassandraStore,
        commit: &ShardCommit,
        deletions: &[RunDeletion],
        finished_history_deletions: &[Vec<u8>],
    ) -> CommitBatch {
        // Unlogged: a single-partition batch is applied atomically anyway,
        // and the batch log would only add writes.
        let mut batch = CommitBatch {
            batch: Batch::new(BatchType::Unlogged),
            values: Vec::new(),
        };
        batch.batch.set_consistency(store.config.consistency);
        batch
            .batch
            .set_serial_consistency(Some(store.config.serial_consistency));
        let statements = &store.statements;
        let shard = commit.shard_id as i32;
        let shard_row = (
            commit.applied_offset,
            commit.next_outbox_seq,
            shard,
            commit.epoch,
        );
        batch.push(&statements.shard.commit_shard_row, shard_row);
        let rows = &statements.rows;
        let put = |batch: &mut CommitBatch, kind: i8, key: Vec<u8>, data: Vec<u8>| {
            batch.push(&rows.insert, (shard, kind, key, data));
        };
        for (run, state) in &commit.executions {
            put(
                &mut batch,
                keys::EXECUTION,
                keys::execution(run),
                prost::Message::encode_to_vec(state.as_ref()),
            );
        }
        for (workflow, current) in &commit.current_runs {
            put(
                &mut batch,
                keys::CURRENT_RUN,
                keys::current_run(workflow),
                prost::Message::encode_to_vec(current),
            );
        }
        for (key, timer) in &commit.timers_to_add {
            put(
                &mut batch,
                keys::TIMER,
                keys::timer(key),
                prost::Message::encode_to_vec(timer),
            );
        }
        for (seq, record) in &commit.outbox {
            put(
                &mut batch,
                keys::OUTBOX,
                keys::outbox(*seq),
                prost::Message::encode_to_vec(record),
            );
        }
        if let Some((from, through)) = commit.outbox_to_delete {
            // One range tombstone, whatever the number of records.
            batch.push(&rows.delete_range, (shard, keys::OUTBOX, keys::outbox(from), keys::outbox(through)));
        }
        for key in timers_only_deleted(commit) {
            batch.push(&rows.delete, (shard, keys::TIMER, keys::timer(key)));
        }
        for key in finished_history_deletions {
            batch.push(&rows.delete, (shard, keys::HISTORY_DELETION, key.clone()));
        }
        for deletion in deletions {
            batch.push(
                &rows.delete,
                (shard, keys::EXECUTION, keys::execution(&deletion.run)),
            );
            if !deletion.history_segments.is_empty() {
                put(
                    &mut batch,
                    keys::HISTORY_DELETION,
                    keys::execution(&deletion.run),
                    super::history_deletions::row_data(&deletion.history_segments),
                );
            }
            if deletion.delete_pointer {
                batch.push(
                    &rows.delete,
                    (
                        shard,
                        keys::CURRENT_RUN,
                        keys::current_run(&deletion.run.workflow()),
                    ),
                );
            }
        }
        batch
    }

    fn push(
        &mut self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync + 'static,
    ) {
        self.batch.append_statement(statement.clone());
        self.values.push(Box::new(values));
    }
}

/// Timers deleted and not added back: in one batch a deletion and a write of
/// the same row share a timestamp, and the deletion would win.
fn timers_only_deleted(commit: &ShardCommit) -> impl Iterator<Item = &TimerKey> {
    let added: HashSet<&TimerKey> = commit.timers_to_add.iter().map(|(key, _)| key).collect();
    commit
        .timers_to_delete
        .iter()
        .filter(move |key| !added.contains(key))
}
