//! The log in the embedded database, for single-process deployments.
//!
//! Keys (keyspace `log`): log name (length-prefixed), partition (u32 BE),
//! offset (u64 BE); the value is the payload. Keyspace `meta` holds the layout
//! and, per partition, the trim point, so the next offset survives a trim of
//! every record.
//!
//! Offsets are assigned on the writer thread, which runs one job at a time, so
//! concurrent appends get distinct offsets and each call's records stay
//! contiguous. Each partition's bounds live in a `watch` channel that readers
//! wait on.

use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;

use super::{Log, LogError, LogLayout, LogName, LogRecord, Offset, check_partition};
use crate::embedded_db::keys::{Key, KeyReader};
use crate::embedded_db::{EmbeddedDb, EmbeddedDbError, Writer};

impl From<EmbeddedDbError> for LogError {
    fn from(error: EmbeddedDbError) -> Self {
        match error {
            EmbeddedDbError::Storage(message) | EmbeddedDbError::Refused(message) => LogError::Storage(message),
            EmbeddedDbError::Closed => LogError::Closed,
        }
    }
}

/// A [`Log`] kept in an [`EmbeddedDb`]; at most one is open per database.
pub struct EmbeddedLog {
    db: Arc<EmbeddedDb>,
    layout: LogLayout,
    partitions: Arc<Partitions>,
}

/// The readable records of a partition are `oldest..next`.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    oldest: Offset,
    next: Offset,
}

/// Per log (in `LogName::ALL` order), per partition.
struct Partitions(Vec<Vec<watch::Sender<Bounds>>>);

impl Partitions {
    fn get(&self, log: LogName, partition: u32) -> &watch::Sender<Bounds> {
        &self.0[log_index(log)][partition as usize]
    }
}

fn log_index(log: LogName) -> usize {
    match log {
        LogName::Commands => 0,
        LogName::Tasks => 1,
        LogName::Visibility => 2,
    }
}

impl EmbeddedLog {
    /// Opens the log, recording `layout` on first use; a database created
    /// with another layout is refused. Blocks for one write to the database.
    pub fn open(db: Arc<EmbeddedDb>, layout: LogLayout) -> Result<EmbeddedLog, LogError> {
        if !db.claim_log() {
            return Err(LogError::Storage("an EmbeddedLog is already open on this database; share that one".into()));
        }
        // Recovery runs on the writer thread so it sees every write queued
        // before it, including appends of a log instance just dropped.
        match db.write_blocking(move |writer| recover(writer, layout)) {
            Ok(partitions) => Ok(EmbeddedLog { db, layout, partitions: Arc::new(partitions) }),
            Err(error) => {
                db.release_log();
                Err(error)
            }
        }
    }

    fn bounds(&self, log: LogName, partition: u32) -> Result<&watch::Sender<Bounds>, LogError> {
        check_partition(&self.layout, log, partition)?;
        Ok(self.partitions.get(log, partition))
    }

    /// Reads records known to exist (`from` up to `until`, below the end).
    fn read_existing(
        &self,
        log: LogName,
        partition: u32,
        from: Offset,
        until: Offset,
    ) -> Result<Vec<LogRecord>, LogError> {
        let range =
            (Bound::Included(record_key(log, partition, from)), Bound::Excluded(record_key(log, partition, until)));
        let entries = self.db.scan(&self.db.tables().log, range, usize::MAX)?;
        let records = entries
            .into_iter()
            .map(|(key, payload)| Ok(LogRecord { offset: offset_of(&key)?, payload: Bytes::copy_from_slice(&payload) }))
            .collect::<Result<Vec<_>, LogError>>()?;
        // Only a trim deletes records, and only from the front: a missing
        // first record means one ran since the bounds were checked.
        if records.first().map(|record| record.offset) != Some(from) {
            let oldest = self.partitions.get(log, partition).borrow().oldest;
            return Err(LogError::Trimmed { log, partition, offset: from, oldest });
        }
        Ok(records)
    }
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        self.db.release_log();
    }
}

#[async_trait]
impl Log for EmbeddedLog {
    fn layout(&self) -> LogLayout {
        self.layout
    }

    async fn append(&self, log: LogName, partition: u32, records: Vec<Bytes>) -> Result<Offset, LogError> {
        let bounds = self.bounds(log, partition)?;
        if records.is_empty() {
            return Ok(bounds.borrow().next);
        }
        let partitions = self.partitions.clone();
        self.db
            .write(move |writer| append_in_writer(writer, partitions.get(log, partition), log, partition, records))
            .await
    }

    async fn read(&self, log: LogName, partition: u32, from: Offset, max: usize) -> Result<Vec<LogRecord>, LogError> {
        // Subscribing before looking at the bounds means an append that lands
        // in between still wakes us.
        let mut changes = self.bounds(log, partition)?.subscribe();
        if max == 0 {
            return Ok(Vec::new());
        }
        loop {
            let Bounds { oldest, next } = *changes.borrow_and_update();
            if from < oldest {
                return Err(LogError::Trimmed { log, partition, offset: from, oldest });
            }
            if from < next {
                let until = next.min(from.saturating_add(max as u64));
                return self.read_existing(log, partition, from, until);
            }
            // The sender lives in `self.partitions`, which outlives this borrow.
            changes.changed().await.map_err(|_| LogError::Closed)?;
        }
    }

    async fn end_offset(&self, log: LogName, partition: u32) -> Result<Offset, LogError> {
        Ok(self.bounds(log, partition)?.borrow().next)
    }

    async fn trim(&self, log: LogName, partition: u32, before: Offset) -> Result<(), LogError> {
        self.bounds(log, partition)?;
        let partitions = self.partitions.clone();
        self.db
            .write(move |writer| trim_in_writer(writer, partitions.get(log, partition), log, partition, before))
            .await
    }
}

fn append_in_writer(
    writer: &Writer,
    bounds: &watch::Sender<Bounds>,
    log: LogName,
    partition: u32,
    records: Vec<Bytes>,
) -> Result<Offset, LogError> {
    let first = bounds.borrow().next;
    let mut batch = writer.batch();
    for (offset, payload) in (first..).zip(&records) {
        batch.insert(&writer.tables().log, record_key(log, partition, offset), payload.as_ref());
    }
    writer.commit(batch)?;
    // Readers are woken now, before the group's fsync. That is safe because
    // the log shares its journal with the store: anything a reader does with
    // these records that must be durable (a shard commit) is written to the
    // same journal later, so it cannot become durable without them. If the
    // fsync fails the database is poisoned and refuses every later write.
    bounds.send_modify(|bounds| bounds.next = first + records.len() as u64);
    Ok(first)
}

/// Trimming stops at the end of the partition: records that do not exist yet
/// cannot be discarded, and later appends must keep contiguous offsets.
fn trim_in_writer(
    writer: &Writer,
    bounds: &watch::Sender<Bounds>,
    log: LogName,
    partition: u32,
    before: Offset,
) -> Result<(), LogError> {
    let Bounds { oldest, next } = *bounds.borrow();
    let before = before.min(next);
    if before <= oldest {
        return Ok(());
    }
    let tables = writer.tables();
    let mut batch = writer.batch();
    for offset in oldest..before {
        batch.remove(&tables.log, record_key(log, partition, offset));
    }
    batch.insert(&tables.meta, trim_point_key(log, partition), before.to_be_bytes().to_vec());
    writer.commit(batch)?;
    bounds.send_modify(|bounds| bounds.oldest = before);
    Ok(())
}

fn recover(writer: &Writer, layout: LogLayout) -> Result<Partitions, LogError> {
    check_layout(writer, layout)?;
    let partitions = LogName::ALL
        .iter()
        .map(|&log| {
            (0..layout.partitions(log))
                .map(|partition| recover_bounds(writer, log, partition).map(watch::Sender::new))
                .collect::<Result<Vec<_>, LogError>>()
        })
        .collect::<Result<Vec<_>, LogError>>()?;
    Ok(Partitions(partitions))
}

fn check_layout(writer: &Writer, layout: LogLayout) -> Result<(), LogError> {
    let key = Key::new().str("log_layout").into_bytes();
    match writer.get(&writer.tables().meta, &key)? {
        Some(stored) => {
            let stored = decode_layout(&stored)?;
            if stored == layout {
                Ok(())
            } else {
                Err(LogError::LayoutMismatch { stored, requested: layout })
            }
        }
        None => {
            let mut batch = writer.batch();
            batch.insert(&writer.tables().meta, key, encode_layout(layout));
            Ok(writer.commit(batch)?)
        }
    }
}

fn recover_bounds(writer: &Writer, log: LogName, partition: u32) -> Result<Bounds, LogError> {
    let tables = writer.tables();
    let oldest = match writer.get(&tables.meta, &trim_point_key(log, partition))? {
        Some(value) => decode_offset(&value)?,
        None => 0,
    };
    let prefix = partition_prefix(log, partition).into_bytes();
    let next = match writer.last_key_with_prefix(&tables.log, &prefix)? {
        Some(last) => offset_of(&last)? + 1,
        None => oldest,
    };
    Ok(Bounds { oldest, next })
}

fn partition_prefix(log: LogName, partition: u32) -> Key {
    Key::new().str(log.as_str()).u32(partition)
}

fn record_key(log: LogName, partition: u32, offset: Offset) -> Vec<u8> {
    partition_prefix(log, partition).u64(offset).into_bytes()
}

fn trim_point_key(log: LogName, partition: u32) -> Vec<u8> {
    Key::new().str("log_trim").str(log.as_str()).u32(partition).into_bytes()
}

fn offset_of(key: &[u8]) -> Result<Offset, LogError> {
    let mut reader = KeyReader::new(key);
    reader
        .skip_str()
        .and_then(|()| reader.u32())
        .and_then(|_partition| reader.u64())
        .ok_or_else(|| LogError::Storage(format!("malformed log key {key:?}")))
}

fn decode_offset(value: &[u8]) -> Result<Offset, LogError> {
    KeyReader::new(value).u64().ok_or_else(|| LogError::Storage(format!("malformed trim point {value:?}")))
}

fn encode_layout(layout: LogLayout) -> Vec<u8> {
    Key::new().u32(layout.commands).u32(layout.tasks).u32(layout.visibility).into_bytes()
}

fn decode_layout(value: &[u8]) -> Result<LogLayout, LogError> {
    let mut reader = KeyReader::new(value);
    let commands = reader.u32();
    let tasks = reader.u32();
    let visibility = reader.u32();
    match (commands, tasks, visibility) {
        (Some(commands), Some(tasks), Some(visibility)) => Ok(LogLayout { commands, tasks, visibility }),
        _ => Err(LogError::Storage(format!("malformed stored log layout {value:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded_db::DiskUsage;

    const LAYOUT: LogLayout = LogLayout { commands: 2, tasks: 1, visibility: 1 };

    #[test]
    fn a_different_layout_is_refused_naming_both() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        drop(EmbeddedLog::open(db.clone(), LAYOUT).expect("first open"));
        let other = LogLayout { commands: 3, ..LAYOUT };
        match EmbeddedLog::open(db, other) {
            Err(LogError::LayoutMismatch { stored, requested }) => {
                assert_eq!((stored, requested), (LAYOUT, other));
            }
            Err(error) => panic!("expected a layout mismatch, got {error:?}"),
            Ok(_) => panic!("a different layout was accepted"),
        }
    }

    /// Trimming writes tombstones; the space of the tables comes back once
    /// the database reclaims it (flush, then compaction drops tombstones and
    /// records). The journal keeps its file until that passes 64 MB.
    #[tokio::test]
    async fn a_trimmed_partition_gives_its_space_back() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        let log = EmbeddedLog::open(db.clone(), LAYOUT).expect("open");
        for _ in 0..20 {
            let records = (0..1000).map(|_| Bytes::from(vec![7u8; 1024])).collect();
            log.append(LogName::Commands, 0, records).await.expect("append");
        }
        db.flush_memtables().expect("flush");
        let filled = DiskUsage::of(db.path()).tables;
        log.trim(LogName::Commands, 0, 20_000).await.expect("trim");
        db.reclaim_space().expect("reclaim");
        let trimmed = DiskUsage::of(db.path()).tables;
        let files = list_files(db.path());
        assert!(filled > 16 * 1024 * 1024, "20 MiB appended and flushed, {filled} bytes in tables");
        assert!(trimmed < filled / 10, "{filled} bytes before the trim, {trimmed} after: {files}");
    }

    /// `du -a`, to show where the space went.
    fn list_files(dir: &std::path::Path) -> String {
        let output = std::process::Command::new("du").arg("-a").arg(dir).output().expect("du");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn one_database_holds_one_log_at_a_time() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        let first = EmbeddedLog::open(db.clone(), LAYOUT).expect("first open");
        assert!(EmbeddedLog::open(db.clone(), LAYOUT).is_err(), "a second log on one database was opened");
        drop(first);
        EmbeddedLog::open(db, LAYOUT).expect("reopening after the first log is dropped");
    }
}
