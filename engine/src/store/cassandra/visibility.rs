//! Visibility records: one partition per run, and a copy in the namespace's
//! listing (`visibility_by_start`, newest start first). Every write carries
//! the record's version as its cell timestamp (`USING TIMESTAMP`), so
//! Cassandra keeps the highest version by itself: no read before a write, no
//! condition, and the writes of many records go in a few unlogged batches.
//! A deletion is the run's last record, with the highest version of all.
//! Equal versions carry the same summary (the engine makes one per state
//! transition), so which copy Cassandra keeps of them does not matter.
//! A run's start time never changes, so its listing row stays where it is.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use prost::Message;
use scylla::statement::prepared::PreparedStatement;
use temper_proto::records::VisibilityRecord;

use super::error::decode;
use super::unlogged::PartitionWrites;
use super::{CassandraError, CassandraStore, Preparer, cql_limit};
use crate::store::{StoreResult, VisibilityCursor, VisibilityStore};

pub(super) struct VisibilityStatements {
    get: PreparedStatement,
    put: PreparedStatement,
    delete: PreparedStatement,
    put_listed: PreparedStatement,
    delete_listed: PreparedStatement,
    list_first: PreparedStatement,
    list_same_start_after: PreparedStatement,
    list_older: PreparedStatement,
}

const RUN: &str = "namespace_id = ? AND workflow_id = ? AND run_id = ?";

impl VisibilityStatements {
    pub(super) async fn prepare(
        preparer: &Preparer<'_>,
    ) -> Result<VisibilityStatements, CassandraError> {
        const LISTED: &str =
            "namespace_id = ? AND start_time = ? AND run_id = ? AND workflow_id = ?";
        const LIST: &str = "SELECT data FROM {ks}.visibility_by_start WHERE namespace_id = ?";
        Ok(VisibilityStatements {
            get: preparer.prepare(&format!("SELECT version, start_time, data FROM {{ks}}.visibility WHERE {RUN}")).await?,
            put: preparer
                .prepare(
                    "INSERT INTO {ks}.visibility (namespace_id, workflow_id, run_id, version, start_time, data) \
                     VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                )
                .await?,
            delete: preparer.prepare(&format!("DELETE FROM {{ks}}.visibility USING TIMESTAMP ? WHERE {RUN}")).await?,
            put_listed: preparer
                .prepare(
                    "INSERT INTO {ks}.visibility_by_start (namespace_id, start_time, run_id, workflow_id, data) \
                     VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
                )
                .await?,
            delete_listed: preparer
                .prepare(&format!("DELETE FROM {{ks}}.visibility_by_start USING TIMESTAMP ? WHERE {LISTED}"))
                .await?,
            list_first: preparer.prepare(&format!("{LIST} LIMIT ?")).await?,
            list_same_start_after: preparer
                .prepare(&format!("{LIST} AND start_time = ? AND run_id > ? LIMIT ?"))
                .await?,
            list_older: preparer.prepare(&format!("{LIST} AND start_time < ? LIMIT ?")).await?,
        })
    }
}

fn start_of(record: &VisibilityRecord) -> i64 {
    VisibilityCursor::of(record).start_time_nanos
}

/// The cell timestamp of a record's writes: its version (Cassandra reserves
/// the lowest timestamp).
fn timestamp_of(record: &VisibilityRecord) -> i64 {
    record.version.max(0)
}

/// Per run, the record to keep among `records`: the highest version, the
/// later of equal ones.
fn highest_per_run(records: Vec<VisibilityRecord>) -> Vec<VisibilityRecord> {
    let mut kept: BTreeMap<(String, String, String), VisibilityRecord> = BTreeMap::new();
    for record in records {
        let run = (
            record.namespace_id.clone(),
            record.workflow_id.clone(),
            record.run_id.clone(),
        );
        match kept.get(&run) {
            Some(current) if current.version > record.version => {}
            _ => {
                kept.insert(run, record);
            }
        }
    }
    kept.into_values().collect()
}

impl CassandraStore {
    /// The writes of `records` (one per run): each run's own partition, and
    /// per namespace its listing partition.
    fn visibility_writes(&self, records: Vec<VisibilityRecord>) -> Vec<PartitionWrites> {
        let statements = &self.statements.visibility;
        let mut runs = Vec::with_capacity(records.len());
        let mut listings: HashMap<String, PartitionWrites> = HashMap::new();
        for record in records {
            let (namespace, workflow, run_id) =
                (record.namespace_id.clone(), record.workflow_id.clone(), record.run_id.clone());
            let (start, timestamp) = (start_of(&record), timestamp_of(&record));
            let key_bytes = namespace.len() + workflow.len() + run_id.len() + 16;
            let mut run = PartitionWrites::default();
            let listing = listings.entry(namespace.clone()).or_default();
            if record.deleted {
                run.push(&statements.delete, (timestamp, namespace.clone(), workflow.clone(), run_id.clone()), key_bytes);
                listing.push(&statements.delete_listed, (timestamp, namespace, start, run_id, workflow), key_bytes);
            } else {
                let data = record.encode_to_vec();
                let bytes = key_bytes + data.len();
                let row = (namespace.clone(), workflow.clone(), run_id.clone(), record.version, start, data.clone(), timestamp);
                run.push(&statements.put, row, bytes);
                listing.push(&statements.put_listed, (namespace, start, run_id, workflow, data, timestamp), bytes);
            }
            runs.push(run);
        }
        runs.extend(listings.into_values());
        runs
    }

    async fn listed(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<Vec<VisibilityRecord>, CassandraError> {
        let rows: Vec<(Vec<u8>,)> = self.rows(statement, values).await?;
        rows.into_iter()
            .map(|(data,)| decode("visibility record", &data))
            .collect()
    }
}

#[async_trait]
impl VisibilityStore for CassandraStore {
    async fn upsert_visibility(&self, records: Vec<VisibilityRecord>) -> StoreResult<()> {
        let writes = self.visibility_writes(highest_per_run(records));
        Ok(self.write_partitions(writes).await?)
    }

    async fn get_visibility(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> StoreResult<Option<VisibilityRecord>> {
        let row: Option<(i64, i64, Vec<u8>)> = self
            .first_row(
                &self.statements.visibility.get,
                (namespace_id, workflow_id, run_id),
            )
            .await?;
        Ok(row
            .map(|(_, _, data)| decode("visibility record", &data))
            .transpose()?)
    }

    /// After a cursor: the rest of its start time past its run id, then older starts.
    async fn list_visibility(
        &self,
        namespace_id: &str,
        after: Option<&VisibilityCursor>,
        limit: usize,
    ) -> StoreResult<Vec<VisibilityRecord>> {
        let statements = &self.statements.visibility;
        let Some(cursor) = after else {
            return Ok(self
                .listed(&statements.list_first, (namespace_id, cql_limit(limit)))
                .await?);
        };
        let same_start = (
            namespace_id,
            cursor.start_time_nanos,
            &cursor.run_id,
            cql_limit(limit),
        );
        let mut page = self
            .listed(&statements.list_same_start_after, same_start)
            .await?;
        if page.len() < limit {
            let older = (
                namespace_id,
                cursor.start_time_nanos,
                cql_limit(limit - page.len()),
            );
            page.extend(self.listed(&statements.list_older, older).await?);
        }
        Ok(page)
    }
}
