//! Rows of the shard partition other than the shard row: mutable states,
//! current-run pointers, timers and outbox records (see [`super::keys`]).

use scylla::statement::prepared::PreparedStatement;

use super::error::{CassandraError, decode};
use super::{CassandraStore, Preparer, cql_limit};
use crate::store::ShardId;

pub(super) struct RowStatements {
    get: PreparedStatement,
    pub(super) insert: PreparedStatement,
    pub(super) delete: PreparedStatement,
    slice: PreparedStatement,
    pub(super) delete_range: PreparedStatement,
}

impl RowStatements {
    pub(super) async fn prepare(preparer: &Preparer<'_>) -> Result<RowStatements, CassandraError> {
        Ok(RowStatements {
            get: preparer
                .prepare("SELECT data FROM {ks}.shard WHERE shard_id = ? AND row_kind = ? AND row_key = ?")
                .await?,
            insert: preparer
                .prepare("INSERT INTO {ks}.shard (shard_id, row_kind, row_key, data) VALUES (?, ?, ?, ?)")
                .await?,
            delete: preparer
                .prepare("DELETE FROM {ks}.shard WHERE shard_id = ? AND row_kind = ? AND row_key = ?")
                .await?,
            slice: preparer
                .prepare(
                    "SELECT row_key, data FROM {ks}.shard WHERE shard_id = ? AND row_kind = ? \
                     AND row_key >= ? AND row_key < ? LIMIT ?",
                )
                .await?,
            delete_range: preparer
                .prepare(
                    "DELETE FROM {ks}.shard WHERE shard_id = ? AND row_kind = ? AND row_key >= ? AND row_key <= ?",
                )
                .await?,
        })
    }
}

impl CassandraStore {
    pub(super) async fn get_row<M: prost::Message + Default>(
        &self,
        shard_id: ShardId,
        kind: i8,
        key: Vec<u8>,
        what: &str,
    ) -> Result<Option<M>, CassandraError> {
        let row: Option<(Vec<u8>,)> = self
            .first_row(&self.statements.rows.get, (shard_id as i32, kind, key))
            .await?;
        row.map(|(data,)| decode(what, &data)).transpose()
    }

    /// Rows of one kind with keys in `[from, before)`, in key order.
    pub(super) async fn slice_rows<M: prost::Message + Default>(
        &self,
        shard_id: ShardId,
        kind: i8,
        (from, before): (Vec<u8>, Vec<u8>),
        limit: usize,
        what: &str,
    ) -> Result<Vec<(Vec<u8>, M)>, CassandraError> {
        let rows = self.slice_raw_rows(shard_id, kind, (from, before), limit).await?;
        rows.into_iter()
            .map(|(key, data)| Ok((key, decode(what, &data)?)))
            .collect()
    }

    /// The same rows with their data as stored.
    pub(super) async fn slice_raw_rows(
        &self,
        shard_id: ShardId,
        kind: i8,
        (from, before): (Vec<u8>, Vec<u8>),
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, CassandraError> {
        if from >= before || limit == 0 {
            return Ok(Vec::new());
        }
        let values = (shard_id as i32, kind, from, before, cql_limit(limit));
        self.rows(&self.statements.rows.slice, values).await
    }
}
