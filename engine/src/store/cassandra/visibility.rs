//! Visibility records: one partition per run, and a copy in the namespace's
//! listing (`visibility_by_start`, newest start first). The projection that
//! writes a run's records is their only writer, so the version check is a
//! read-compare-write; the two tables change together in a logged batch.

use std::collections::BTreeMap;

use async_trait::async_trait;
use prost::Message;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use temper_proto::records::VisibilityRecord;

use super::error::decode;
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
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .await?,
            delete: preparer.prepare(&format!("DELETE FROM {{ks}}.visibility WHERE {RUN}")).await?,
            put_listed: preparer
                .prepare(
                    "INSERT INTO {ks}.visibility_by_start (namespace_id, start_time, run_id, workflow_id, data) \
                     VALUES (?, ?, ?, ?, ?)",
                )
                .await?,
            delete_listed: preparer.prepare(&format!("DELETE FROM {{ks}}.visibility_by_start WHERE {LISTED}")).await?,
            list_first: preparer.prepare(&format!("{LIST} LIMIT ?")).await?,
            list_same_start_after: preparer
                .prepare(&format!("{LIST} AND start_time = ? AND run_id > ? LIMIT ?"))
                .await?,
            list_older: preparer.prepare(&format!("{LIST} AND start_time < ? LIMIT ?")).await?,
        })
    }
}

/// What is stored of a run's record: enough to compare and to find its copy.
struct Stored {
    version: i64,
    start_time: i64,
}

fn start_of(record: &VisibilityRecord) -> i64 {
    VisibilityCursor::of(record).start_time_nanos
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
    async fn stored_visibility(
        &self,
        record: &VisibilityRecord,
    ) -> Result<Option<Stored>, CassandraError> {
        let values = (&record.namespace_id, &record.workflow_id, &record.run_id);
        let row: Option<(i64, i64, Vec<u8>)> = self
            .first_row(&self.statements.visibility.get, values)
            .await?;
        Ok(row.map(|(version, start_time, _)| Stored {
            version,
            start_time,
        }))
    }

    async fn upsert_one_visibility(&self, record: VisibilityRecord) -> Result<(), CassandraError> {
        let stored = self.stored_visibility(&record).await?;
        if stored
            .as_ref()
            .is_some_and(|stored| stored.version > record.version)
        {
            return Ok(());
        }
        let statements = &self.statements.visibility;
        let mut batch = Batch::new(BatchType::Logged);
        batch.set_consistency(self.config.consistency);
        // Writing the same record again changes nothing.
        batch.set_is_idempotent(true);
        let run = (
            record.namespace_id.as_str(),
            record.workflow_id.as_str(),
            record.run_id.as_str(),
        );
        let mut values: Vec<Box<dyn scylla::serialize::row::SerializeRow + Send + Sync + '_>> =
            Vec::new();
        let start = start_of(&record);
        if let Some(stored) = stored.filter(|stored| record.deleted || stored.start_time != start) {
            batch.append_statement(statements.delete_listed.clone());
            values.push(Box::new((run.0, stored.start_time, run.2, run.1)));
        }
        if record.deleted {
            batch.append_statement(statements.delete.clone());
            values.push(Box::new(run));
        } else {
            let data = record.encode_to_vec();
            batch.append_statement(statements.put.clone());
            values.push(Box::new((
                run.0,
                run.1,
                run.2,
                record.version,
                start,
                data.clone(),
            )));
            batch.append_statement(statements.put_listed.clone());
            values.push(Box::new((run.0, start, run.2, run.1, data)));
        }
        self.session.batch(&batch, values).await?;
        Ok(())
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
        // One record per run by now, so the runs are independent.
        let upserts = highest_per_run(records)
            .into_iter()
            .map(|record| self.upsert_one_visibility(record));
        futures::future::try_join_all(upserts).await?;
        Ok(())
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
