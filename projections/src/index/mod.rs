//! The visibility index: what `ListWorkflowExecutions`,
//! `CountWorkflowExecutions` and `ScanWorkflowExecutions` read. An embedded
//! SQLite database (WAL mode) that the projection fills from the
//! `visibility` log: one writer connection, behind a mutex, applies batches
//! while a few reader connections serve listings from consistent snapshots.
//! All SQLite work runs on tokio's blocking threads.
//!
//! Each batch is applied in one transaction together with the log offset it
//! reaches, so after a crash the projection resumes exactly where the index
//! stands. A run keeps its highest-versioned record; a `deleted` record
//! removes it.
//!
//! Queries follow Temporal's SQL visibility (see the `plan` and
//! `attributes` modules): the same attributes and types, operators, literal
//! syntax, null semantics, default order and namespace division filter.
//! Beyond it: ORDER BY any attribute but Text (several keys, ASC or DESC,
//! nulls last), and page tokens that are keyset cursors.

mod attributes;
pub use attributes::status_name;
mod plan;
mod schema;
mod token;
mod values;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use prost::Message;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use temper_engine::time::{duration_nanos, timestamp_nanos};
use temper_proto::api::enums::v1::IndexedValueType;
use temper_proto::records::VisibilityRecord;
use tokio::sync::Notify;

use crate::query::{Query, QueryError};

/// The namespace's registered custom search attributes and their types.
pub type SearchAttributeTypes = HashMap<String, IndexedValueType>;

/// The page size of a listing that asks for none (0), and the largest
/// allowed: Temporal's `frontend.visibilityMaxPageSize` default, which its
/// frontend also uses for a page size that is zero or too large.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Reader connections: listings that run at once without waiting for one another.
const READERS: usize = 4;
/// How long a connection waits for a lock SQLite holds (a checkpoint).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct ListRequest {
    pub namespace_id: String,
    pub query: Query,
    /// The namespace's custom search attributes.
    pub attributes: SearchAttributeTypes,
    /// 0 for [`MAX_PAGE_SIZE`]; larger ones are capped to it.
    pub page_size: usize,
    /// Empty for the first page.
    pub next_page_token: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListPage {
    pub executions: Vec<VisibilityRecord>,
    /// Empty on the last page.
    pub next_page_token: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Count {
    Total(i64),
    /// Per WorkflowExecutionStatus with at least one execution, in status order.
    ByStatus(Vec<(i32, i64)>),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum IndexError {
    /// The query names an unknown attribute, compares one with a literal of
    /// another type, uses an operator its type does not take, or groups by
    /// what cannot be grouped by. `position` is a byte offset into the query.
    #[error("{message} at position {position}")]
    InvalidQuery { position: usize, message: String },
    #[error("invalid page token: {0}")]
    InvalidPageToken(String),
    #[error("visibility index: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for IndexError {
    fn from(error: rusqlite::Error) -> Self {
        IndexError::Storage(error.to_string())
    }
}

impl From<QueryError> for IndexError {
    fn from(error: QueryError) -> Self {
        IndexError::InvalidQuery { position: error.position, message: error.message }
    }
}

pub struct VisibilityIndex {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The applied offsets, as committed.
    applied: Mutex<HashMap<u32, u64>>,
    /// Notified after every commit.
    progress: Notify,
}

impl VisibilityIndex {
    /// Opens the index at `path`, creating the file and its schema if new.
    pub fn open(path: &Path) -> Result<Arc<VisibilityIndex>, IndexError> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| IndexError::Storage(format!("creating {}: {e}", parent.display())))?;
        }
        let mut writer = Connection::open(path)?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(IndexError::Storage(format!("{} cannot use WAL mode (it is in {mode} mode)", path.display())));
        }
        // With WAL, NORMAL loses at most the last commits on power loss,
        // never consistency: a batch and its offset go together.
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = writer.pragma_query_value(None, "user_version", |row| row.get(0))?;
        match version {
            0 => {
                let tx = writer.transaction()?;
                tx.execute_batch(schema::SCHEMA)?;
                tx.pragma_update(None, "user_version", schema::VERSION)?;
                tx.commit()?;
            }
            schema::VERSION => {}
            other => {
                return Err(IndexError::Storage(format!(
                    "{} has schema version {other}; this build knows version {}",
                    path.display(),
                    schema::VERSION
                )));
            }
        }
        let applied = {
            let mut statement = writer.prepare("SELECT partition, next_offset FROM applied_offsets")?;
            let rows = statement.query_map([], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)? as u64)))?;
            rows.collect::<Result<HashMap<_, _>, _>>()?
        };
        register_functions(&writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                reader.busy_timeout(BUSY_TIMEOUT)?;
                register_functions(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        Ok(Arc::new(VisibilityIndex {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                applied: Mutex::new(applied),
                progress: Notify::new(),
            }),
        }))
    }

    /// The offset of the next record of `partition` to apply: 0 when new.
    pub async fn applied(&self, partition: u32) -> Result<u64, IndexError> {
        Ok(self.inner.applied_now(partition))
    }

    /// Waits until `partition` is applied up to `offset` (excluded), or
    /// `deadline` passes; whether it got there.
    pub async fn wait_applied(&self, partition: u32, offset: u64, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.inner.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.applied_now(partition) >= offset {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.applied_now(partition) >= offset;
            }
        }
    }

    /// Applies a batch read from `partition` and records `next_offset` in
    /// the same transaction. A run keeps its highest version (an equal one
    /// replaces it), so a record applied twice changes nothing; a `deleted`
    /// record removes the run and its attribute values. A batch that does
    /// not reach past the recorded offset was applied already and is
    /// skipped whole, so replaying an old batch cannot bring back a run a
    /// later batch deleted.
    pub async fn apply(
        &self,
        partition: u32,
        records: Vec<VisibilityRecord>,
        next_offset: u64,
    ) -> Result<(), IndexError> {
        let inner = self.inner.clone();
        blocking(move || inner.apply(partition, records, next_offset)).await
    }

    /// One page of the executions the query matches, in its order.
    pub async fn list(&self, request: ListRequest) -> Result<ListPage, IndexError> {
        let plan = plan::plan_list(&request.query, &request.attributes)?;
        let page_size = match request.page_size {
            0 => MAX_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let fingerprint = plan.fingerprint(&request.namespace_id);
        let cursor = match request.next_page_token.is_empty() {
            true => None,
            false => Some(token::decode(&request.next_page_token, &fingerprint, plan.order.len())?),
        };
        let sql = plan.select(&request.namespace_id, cursor.as_ref(), page_size + 1);
        let keys = plan.order.len();
        let inner = self.inner.clone();
        let mut rows = blocking(move || {
            inner.with_reader(|reader| {
                let mut statement = reader.prepare_cached(&sql.text)?;
                let rows = statement.query_map(rusqlite::params_from_iter(sql.params.iter()), |row| {
                    let record: Vec<u8> = row.get(0)?;
                    let values = (0..keys).map(|i| row.get::<_, SqlValue>(i + 1)).collect::<Result<Vec<_>, _>>()?;
                    let run_id: String = row.get(keys + 1)?;
                    Ok((record, plan::Cursor { keys: values, run_id }))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
        })
        .await?;
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let next_page_token = match (more, rows.last()) {
            (true, Some((_, cursor))) => token::encode(&fingerprint, cursor),
            _ => Vec::new(),
        };
        let executions = rows.into_iter().map(|(record, _)| decode_record(&record)).collect::<Result<_, _>>()?;
        Ok(ListPage { executions, next_page_token })
    }

    /// How many executions the query matches, in total or per status
    /// (`GROUP BY ExecutionStatus`). An ORDER BY is checked, then ignored.
    pub async fn count(
        &self,
        namespace_id: &str,
        query: &Query,
        attributes: &SearchAttributeTypes,
    ) -> Result<Count, IndexError> {
        let plan = plan::plan_count(query, attributes)?;
        let sql = plan.select(namespace_id);
        let by_status = plan.by_status;
        let inner = self.inner.clone();
        blocking(move || {
            inner.with_reader(|reader| {
                let mut statement = reader.prepare_cached(&sql.text)?;
                let params = rusqlite::params_from_iter(sql.params.iter());
                if by_status {
                    let rows = statement.query_map(params, |row| Ok((row.get::<_, i32>(0)?, row.get::<_, i64>(1)?)))?;
                    Ok(Count::ByStatus(rows.collect::<Result<_, _>>()?))
                } else {
                    Ok(Count::Total(statement.query_row(params, |row| row.get(0))?))
                }
            })
        })
        .await
    }

    /// The run's record, if the index has it.
    pub async fn get(&self, namespace_id: &str, run_id: &str) -> Result<Option<VisibilityRecord>, IndexError> {
        let (namespace_id, run_id) = (namespace_id.to_owned(), run_id.to_owned());
        let inner = self.inner.clone();
        let record: Option<Vec<u8>> = blocking(move || {
            inner.with_reader(|reader| {
                let mut statement =
                    reader.prepare_cached("SELECT record FROM executions WHERE namespace_id = ?1 AND run_id = ?2")?;
                Ok(statement.query_row(params![namespace_id, run_id], |row| row.get(0)).optional()?)
            })
        })
        .await?;
        record.as_deref().map(decode_record).transpose()
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| IndexError::Storage(format!("the index task failed: {e}")))?
}

fn decode_record(bytes: &[u8]) -> Result<VisibilityRecord, IndexError> {
    VisibilityRecord::decode(bytes).map_err(|e| IndexError::Storage(format!("undecodable record in the index: {e}")))
}

fn register_functions(connection: &Connection) -> Result<(), IndexError> {
    connection.create_scalar_function(
        plan::TEXT_MATCH_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let stored = context.get_raw(0).as_str().unwrap_or("");
            let query = context.get_raw(1).as_str().unwrap_or("");
            Ok(values::text_matches(stored, query))
        },
    )?;
    Ok(())
}

impl Inner {
    fn applied_now(&self, partition: u32) -> u64 {
        self.applied.lock().get(&partition).copied().unwrap_or(0)
    }

    fn with_reader<T>(&self, work: impl FnOnce(&Connection) -> Result<T, IndexError>) -> Result<T, IndexError> {
        for reader in &self.readers {
            if let Some(reader) = reader.try_lock() {
                return work(&reader);
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        work(&self.readers[i].lock())
    }

    fn apply(&self, partition: u32, records: Vec<VisibilityRecord>, next_offset: u64) -> Result<(), IndexError> {
        let mut writer = self.writer.lock();
        let tx = writer.transaction()?;
        let current: u64 = tx
            .query_row("SELECT next_offset FROM applied_offsets WHERE partition = ?1", [partition], |row| {
                row.get::<_, i64>(0)
            })
            .optional()?
            .map_or(0, |offset| offset as u64);
        if next_offset <= current {
            return Ok(());
        }
        for record in &records {
            apply_record(&tx, record)?;
        }
        let next = i64::try_from(next_offset)
            .map_err(|_| IndexError::Storage(format!("offset {next_offset} is out of range")))?;
        tx.execute(
            "INSERT INTO applied_offsets (partition, next_offset) VALUES (?1, ?2)
             ON CONFLICT (partition) DO UPDATE SET next_offset = excluded.next_offset",
            params![partition, next],
        )?;
        tx.commit()?;
        drop(writer);
        self.applied.lock().insert(partition, next_offset);
        self.progress.notify_waiters();
        Ok(())
    }
}

fn apply_record(tx: &Transaction<'_>, record: &VisibilityRecord) -> Result<(), IndexError> {
    if record.namespace_id.is_empty() || record.run_id.is_empty() {
        tracing::warn!(workflow_id = record.workflow_id, "skipping a visibility record without namespace or run id");
        return Ok(());
    }
    let stored: Option<(i64, i64)> = tx
        .prepare_cached("SELECT id, version FROM executions WHERE namespace_id = ?1 AND run_id = ?2")?
        .query_row(params![record.namespace_id, record.run_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    if let Some((_, version)) = stored
        && version > record.version
    {
        return Ok(());
    }
    if let Some((id, _)) = stored {
        tx.prepare_cached("DELETE FROM search_attributes WHERE execution = ?1")?.execute([id])?;
    }
    if record.deleted {
        if let Some((id, _)) = stored {
            tx.prepare_cached("DELETE FROM executions WHERE id = ?1")?.execute([id])?;
        }
        return Ok(());
    }
    let columns = Columns::of(record);
    // One statement for a new run and a newer summary of a known one.
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO executions (namespace_id, run_id, workflow_id, workflow_type, task_queue, status, start_time,
                 execution_time, close_time, close_order, execution_duration, history_length, history_size_bytes,
                 state_transition_count, parent_workflow_id, parent_run_id, root_workflow_id, root_run_id,
                 namespace_division, version, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
             ON CONFLICT (namespace_id, run_id) DO UPDATE SET workflow_id = excluded.workflow_id,
                 workflow_type = excluded.workflow_type, task_queue = excluded.task_queue, status = excluded.status,
                 start_time = excluded.start_time, execution_time = excluded.execution_time,
                 close_time = excluded.close_time, close_order = excluded.close_order,
                 execution_duration = excluded.execution_duration, history_length = excluded.history_length,
                 history_size_bytes = excluded.history_size_bytes, state_transition_count = excluded.state_transition_count,
                 parent_workflow_id = excluded.parent_workflow_id, parent_run_id = excluded.parent_run_id,
                 root_workflow_id = excluded.root_workflow_id, root_run_id = excluded.root_run_id,
                 namespace_division = excluded.namespace_division, version = excluded.version, record = excluded.record
             RETURNING id",
        )?
        .query_row(
            params![
                record.namespace_id,
                record.run_id,
                record.workflow_id,
                record.workflow_type,
                record.task_queue,
                record.status,
                columns.start_time,
                columns.execution_time,
                columns.close_time,
                columns.close_time.unwrap_or(i64::MAX),
                columns.execution_duration,
                record.history_length,
                record.history_size_bytes,
                record.state_transition_count,
                columns.parent_workflow_id,
                columns.parent_run_id,
                columns.root_workflow_id,
                columns.root_run_id,
                columns.namespace_division,
                record.version,
                record.encode_to_vec(),
            ],
            |row| row.get(0),
        )?;
    let Some(search_attributes) = &record.search_attributes else { return Ok(()) };
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO search_attributes (execution, name, kind, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, payload) in &search_attributes.indexed_fields {
        if attributes::is_column(name) {
            continue;
        }
        for (kind, value) in values::decode_search_attribute(name, payload) {
            insert.execute(params![id, name, kind as i64, value])?;
        }
    }
    Ok(())
}

/// A record's values as the columns of `executions` hold them.
struct Columns {
    start_time: Option<i64>,
    execution_time: Option<i64>,
    close_time: Option<i64>,
    execution_duration: Option<i64>,
    parent_workflow_id: Option<String>,
    parent_run_id: Option<String>,
    root_workflow_id: String,
    root_run_id: String,
    namespace_division: Option<String>,
}

impl Columns {
    fn of(record: &VisibilityRecord) -> Columns {
        let set = |timestamp: Option<&_>| timestamp.map(timestamp_nanos).filter(|nanos| *nanos != 0);
        let start_time = set(record.start_time.as_ref());
        let parent = record.parent.as_ref().filter(|parent| !parent.workflow_id.is_empty());
        let (root_workflow_id, root_run_id) = match parent {
            Some(parent) if !parent.root_workflow_id.is_empty() => {
                (parent.root_workflow_id.clone(), parent.root_run_id.clone())
            }
            Some(parent) => (parent.workflow_id.clone(), parent.run_id.clone()),
            None => (record.workflow_id.clone(), record.run_id.clone()),
        };
        let namespace_division = record
            .search_attributes
            .as_ref()
            .and_then(|attributes| attributes.indexed_fields.get(attributes::NAMESPACE_DIVISION))
            .and_then(|payload| {
                values::decode_search_attribute(attributes::NAMESPACE_DIVISION, payload).into_iter().find_map(
                    |(kind, value)| match (kind, value) {
                        (values::Kind::String, SqlValue::Text(division)) => Some(division),
                        _ => None,
                    },
                )
            });
        Columns {
            start_time,
            execution_time: set(record.execution_time.as_ref()).or(start_time),
            close_time: set(record.close_time.as_ref()),
            execution_duration: record.execution_duration.as_ref().map(|duration| duration_nanos(Some(duration))),
            parent_workflow_id: parent.map(|parent| parent.workflow_id.clone()),
            parent_run_id: parent.map(|parent| parent.run_id.clone()).filter(|run_id| !run_id.is_empty()),
            root_workflow_id,
            root_run_id,
            namespace_division,
        }
    }
}
