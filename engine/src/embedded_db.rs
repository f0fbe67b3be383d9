//! The single-process database behind the embedded log and store.
//!
//! Both adapters live in one fjall database so they share one journal: a shard
//! commit that consumed a log record is written to the journal after that
//! record, so it cannot become durable without it.
//!
//! Every write goes through one dedicated OS thread. fjall holds its journal
//! lock while it fsyncs, so a writer on a tokio worker would stall that worker
//! and every task queued behind it; and an fsync costs 0.15–1.2 ms, so one
//! fsync per write would cap throughput. The writer thread instead takes every
//! job that is queued, applies each as its own atomic batch, fsyncs once for the
//! whole group and only then completes the jobs. Reads go straight to fjall from
//! the caller's thread.

use std::cell::Cell;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use std::collections::HashMap;

use keys::Key;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode, Readable, Slice};
use parking_lot::{Mutex, RwLock};

#[derive(Clone, Debug, thiserror::Error)]
pub enum EmbeddedDbError {
    #[error("embedded database failed: {0}")]
    Storage(String),
    #[error("the embedded database is shut down")]
    Closed,
    /// A write the database can never hold (an empty or over-long key).
    #[error("{0}")]
    Refused(String),
}

impl From<fjall::Error> for EmbeddedDbError {
    fn from(error: fjall::Error) -> Self {
        EmbeddedDbError::Storage(error.to_string())
    }
}

/// The keyspaces of the embedded adapters. Key layouts are documented where
/// each adapter builds its keys.
#[derive(Clone)]
pub(crate) struct Tables {
    pub log: Keyspace,
    pub meta: Keyspace,
    pub shards: Keyspace,
    pub executions: Keyspace,
    pub current_runs: Keyspace,
    pub history: Keyspace,
    pub timers: Keyspace,
    pub outbox: Keyspace,
    pub namespaces: Keyspace,
    pub namespace_ids: Keyspace,
    pub consumer_offsets: Keyspace,
    pub members: Keyspace,
}

impl Tables {
    fn all(&self) -> [&Keyspace; 12] {
        [
            &self.log,
            &self.meta,
            &self.shards,
            &self.executions,
            &self.current_runs,
            &self.history,
            &self.timers,
            &self.outbox,
            &self.namespaces,
            &self.namespace_ids,
            &self.consumer_offsets,
            &self.members,
        ]
    }
}

/// Removals per keyspace since it was last compacted.
/// Keyed by keyspace id (`Keyspace::id`).
type RemovalCounts = Arc<Mutex<HashMap<u64, u64>>>;

/// Memtable size of every keyspace.
const MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

impl Tables {
    fn open(database: &Database) -> fjall::Result<Tables> {
        // Smaller memtables than fjall's 64 MiB default: a dozen keyspaces
        // would otherwise hold most of a small server's memory before a flush.
        let options = || KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
        let open = |name: &str| database.keyspace(name, options);
        // The store kept a listing of runs before the projections' index
        // did; what a data directory of that time holds of it is dropped.
        for retired in ["visibility", "visibility_by_start"] {
            if database.keyspace_exists(retired) {
                database.delete_keyspace(open(retired)?)?;
            }
        }
        Ok(Tables {
            log: open("log")?,
            meta: open("meta")?,
            shards: open("shards")?,
            executions: open("executions")?,
            current_runs: open("current_runs")?,
            history: open("history")?,
            timers: open("timers")?,
            outbox: open("outbox")?,
            namespaces: open("namespaces")?,
            namespace_ids: open("namespace_ids")?,
            consumer_offsets: open("consumer_offsets")?,
            members: open("members")?,
        })
    }
}

/// What the writer thread hands a job: the tables, reads of the latest
/// state (every earlier job's batch is applied), and batch commits.
pub(crate) struct Writer {
    database: Database,
    tables: Tables,
    /// Whether the current group wrote anything, so a group of refused jobs
    /// costs no fsync.
    wrote: Cell<bool>,
    removals: RemovalCounts,
}

impl Writer {
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn batch(&self) -> Batch {
        Batch::new(&self.database)
    }

    pub fn get(&self, table: &Keyspace, key: &[u8]) -> Result<Option<Slice>, EmbeddedDbError> {
        if !storable_key(key) {
            return Ok(None);
        }
        Ok(table.get(key)?)
    }

    /// The greatest key starting with `prefix`.
    pub fn last_key_with_prefix(&self, table: &Keyspace, prefix: &[u8]) -> Result<Option<Slice>, EmbeddedDbError> {
        table.prefix(prefix).next_back().map(|guard| guard.key()).transpose().map_err(Into::into)
    }

    /// Applies a batch atomically. It is visible to readers at once and
    /// durable once the job's group is persisted.
    pub fn commit(&self, batch: Batch) -> Result<(), EmbeddedDbError> {
        if let Some(len) = batch.refused_key_len {
            return Err(EmbeddedDbError::Refused(format!(
                "a key of {len} bytes cannot be stored (keys hold 1 to {MAX_KEY_LEN} bytes); an id is empty or too long"
            )));
        }
        if batch.inner.is_empty() {
            return Ok(());
        }
        batch.inner.commit()?;
        self.wrote.set(true);
        if !batch.removals.is_empty() {
            let mut removals = self.removals.lock();
            for (keyspace, count) in batch.removals {
                *removals.entry(keyspace).or_default() += count;
            }
        }
        Ok(())
    }
}

/// fjall panics on an empty key or one longer than this, so such a key fails
/// its batch instead.
const MAX_KEY_LEN: usize = u16::MAX as usize;

fn storable_key(key: &[u8]) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
}

fn bound_key(bound: &Bound<Vec<u8>>) -> Option<&[u8]> {
    match bound {
        Bound::Included(key) | Bound::Excluded(key) => Some(key),
        Bound::Unbounded => None,
    }
}

/// A fjall write batch that refuses keys fjall cannot store.
pub(crate) struct Batch {
    inner: OwnedWriteBatch,
    refused_key_len: Option<usize>,
    /// Removals per keyspace, counted towards its next compaction.
    removals: HashMap<u64, u64>,
}

impl Batch {
    fn new(database: &Database) -> Batch {
        Batch { inner: database.batch(), refused_key_len: None, removals: HashMap::new() }
    }

    pub fn insert(&mut self, table: &Keyspace, key: Vec<u8>, value: impl Into<Slice>) {
        if self.accepts(&key) {
            self.inner.insert(table, key, value.into());
        }
    }

    pub fn remove(&mut self, table: &Keyspace, key: impl Into<Slice> + AsRef<[u8]>) {
        if self.accepts(key.as_ref()) {
            self.inner.remove(table, key.into());
            *self.removals.entry(table.id()).or_default() += 1;
        }
    }

    fn accepts(&mut self, key: &[u8]) -> bool {
        let storable = storable_key(key);
        if !storable {
            self.refused_key_len.get_or_insert(key.len());
        }
        storable
    }
}

/// Runs on the writer thread and returns what to do once the group it ran in
/// is durable (or failed to become so).
type Job = Box<dyn FnOnce(&Writer) -> Completion + Send>;
type Completion = Box<dyn FnOnce(Result<(), EmbeddedDbError>) + Send>;

/// One fjall database shared by the embedded log and store, and the thread
/// that performs all of its writes.
pub struct EmbeddedDb {
    jobs: RwLock<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    log_open: AtomicBool,
    path: PathBuf,
    removals: RemovalCounts,
    // Declared in drop order: keyspace handles before the database, and the
    // database (which stops fjall's threads) before its directory is removed.
    tables: Tables,
    database: Database,
    _temporary_dir: Option<tempfile::TempDir>,
}

impl EmbeddedDb {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Arc<EmbeddedDb>, EmbeddedDbError> {
        Self::open_in(path, None)
    }

    /// Opens a database in a fresh temporary directory, removed when the
    /// database is dropped.
    pub fn open_temporary() -> Result<Arc<EmbeddedDb>, EmbeddedDbError> {
        let dir = tempfile::Builder::new()
            .prefix("temper-")
            .tempdir()
            .map_err(|e| EmbeddedDbError::Storage(format!("creating a temporary directory: {e}")))?;
        let path = dir.path().to_path_buf();
        Self::open_in(&path, Some(dir))
    }

    /// A log (one partition per log) and a store on one temporary database,
    /// as the single process has them: for tests of what runs on top.
    pub fn temporary_log_and_store() -> (Arc<dyn crate::log::Log>, Arc<dyn crate::store::Store>) {
        let db = EmbeddedDb::open_temporary().expect("a temporary database");
        let layout = crate::log::LogLayout { commands: 1, tasks: 1, visibility: 1 };
        let log = crate::log::embedded::EmbeddedLog::open(db.clone(), layout).expect("a log on the temporary database");
        (Arc::new(log), Arc::new(crate::store::embedded::EmbeddedStore::new(db)))
    }

    fn open_in(path: &Path, temporary_dir: Option<tempfile::TempDir>) -> Result<Arc<EmbeddedDb>, EmbeddedDbError> {
        let opening_failed = |e: fjall::Error| EmbeddedDbError::Storage(format!("opening {}: {e}", path.display()));
        // Manual persistence: the writer thread decides when the journal is
        // flushed and synced, once per group.
        let database = Database::builder(path).manual_journal_persist(true).open().map_err(opening_failed)?;
        let tables = Tables::open(&database).map_err(opening_failed)?;
        let (jobs, queue) = mpsc::channel();
        let removals = RemovalCounts::default();
        let writer =
            Writer { database: database.clone(), tables: tables.clone(), wrote: Cell::new(false), removals: removals.clone() };
        let writer_thread = std::thread::Builder::new()
            .name("temper-db-writer".into())
            .spawn(move || run_writer(writer, queue))
            .map_err(|e| EmbeddedDbError::Storage(format!("starting the writer thread: {e}")))?;
        Ok(Arc::new(EmbeddedDb {
            jobs: RwLock::new(Some(jobs)),
            writer_thread: Mutex::new(Some(writer_thread)),
            log_open: AtomicBool::new(false),
            path: path.to_path_buf(),
            removals,
            tables,
            database,
            _temporary_dir: temporary_dir,
        }))
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets queued writes finish, persists them and stops the writer thread.
    /// Later writes fail with [`EmbeddedDbError::Closed`]. Also done on drop.
    pub fn shutdown(&self) {
        // Dropping the only sender ends the writer's loop once the queue is drained.
        drop(self.jobs.write().take());
        if let Some(thread) = self.writer_thread.lock().take()
            && thread.join().is_err()
        {
            tracing::error!("the embedded database's writer thread panicked");
        }
    }

    pub(crate) fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Gives back the disk space of deleted data. An LSM tree deletes by
    /// writing tombstones; what they shadow stays on disk until a compaction
    /// into the last level drops both, and journal files stay until every
    /// memtable holding their writes is flushed. Ongoing writes get there on
    /// their own; after a burst of deletions (trimmed logs, expired runs)
    /// followed by quiet, nothing would. So: flush every memtable, then fully
    /// compact each keyspace whose removals since its last compaction reach a
    /// quarter of its entries, which bounds the rewriting to a few times what
    /// was deleted. Blocks; run it off the async runtime.
    /// Writes every memtable out to the tables' files, so a measure of the
    /// files counts everything written (flushes otherwise run in the background).
    pub(crate) fn flush_memtables(&self) -> Result<(), EmbeddedDbError> {
        for keyspace in self.tables.all() {
            keyspace.rotate_memtable_and_wait()?;
        }
        Ok(())
    }

    pub fn reclaim_space(&self) -> Result<(), EmbeddedDbError> {
        let removals = std::mem::take(&mut *self.removals.lock());
        if removals.is_empty() {
            return Ok(());
        }
        self.flush_memtables()?;
        let deferred = self.compact_where_deleted(&removals)?;
        let mut pending = self.removals.lock();
        for (keyspace, removed) in deferred {
            *pending.entry(keyspace).or_default() += removed;
        }
        drop(pending);
        self.run_fjall_maintenance()
    }

    /// Fully compacts each keyspace whose removals reach a quarter of its
    /// entries; returns the removals of the others, to count towards later.
    fn compact_where_deleted(&self, removals: &HashMap<u64, u64>) -> Result<HashMap<u64, u64>, EmbeddedDbError> {
        let mut deferred = HashMap::new();
        for keyspace in self.tables.all() {
            let removed = removals.get(&keyspace.id()).copied().unwrap_or_default();
            if removed == 0 {
                continue;
            }
            if removed.saturating_mul(4) >= keyspace.approximate_len() as u64 {
                keyspace.major_compact()?;
            } else {
                deferred.insert(keyspace.id(), removed);
            }
        }
        Ok(deferred)
    }

    /// fjall deletes table files no version refers to any more (what a
    /// compaction replaced) and journal files whose writes are all flushed
    /// only in the maintenance that follows a memtable rotation, and rotates
    /// only memtables holding something: a marker write gives it one.
    fn run_fjall_maintenance(&self) -> Result<(), EmbeddedDbError> {
        self.write_blocking(|writer| {
            let mut batch = writer.batch();
            batch.insert(&writer.tables().meta, Key::new().str("space_reclaimed").into_bytes(), Vec::new());
            writer.commit(batch)
        })?;
        Ok(self.tables.meta.rotate_memtable_and_wait()?)
    }

    /// A batch to fill on the caller's thread and commit in a job, so encoding
    /// stays off the writer thread.
    pub(crate) fn batch(&self) -> Batch {
        Batch::new(&self.database)
    }

    /// Reads one key as of the latest applied batch. A key fjall cannot
    /// store cannot be present (and fjall would panic on it).
    pub(crate) fn get(&self, table: &Keyspace, key: &[u8]) -> Result<Option<Slice>, EmbeddedDbError> {
        if !storable_key(key) {
            return Ok(None);
        }
        Ok(self.database.snapshot().get(table, key)?)
    }

    /// Up to `limit` entries of `range`, in key order, from one snapshot so a
    /// scan never sees half of a batch.
    pub(crate) fn scan(
        &self,
        table: &Keyspace,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        limit: usize,
    ) -> Result<Vec<(Slice, Slice)>, EmbeddedDbError> {
        // Every scan is of keys sharing the bounds' prefix; a bound too long
        // to store means no stored key can fall in the range.
        if [&range.0, &range.1].into_iter().any(|bound| bound_key(bound).is_some_and(|key| key.len() > MAX_KEY_LEN)) {
            return Ok(Vec::new());
        }
        self.database
            .snapshot()
            .range(table, range)
            .take(limit)
            .map(|guard| guard.into_inner().map_err(EmbeddedDbError::from))
            .collect()
    }

    /// Runs `job` on the writer thread and resolves with its result once what
    /// it wrote is durable.
    pub(crate) async fn write<T, E>(&self, job: impl FnOnce(&Writer) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<EmbeddedDbError> + Send + 'static,
    {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.submit(job, move |result| {
            // The caller may have stopped waiting; the write stands regardless.
            let _ = reply.send(result);
        })?;
        outcome.await.map_err(|_| E::from(EmbeddedDbError::Closed))?
    }

    /// [`EmbeddedDb::write`] for synchronous callers (opening an adapter).
    /// Blocks the calling thread for one fsync.
    pub(crate) fn write_blocking<T, E>(
        &self,
        job: impl FnOnce(&Writer) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<EmbeddedDbError> + Send + 'static,
    {
        let (reply, outcome) = mpsc::sync_channel(1);
        self.submit(job, move |result| {
            let _ = reply.send(result);
        })?;
        outcome.recv().map_err(|_| E::from(EmbeddedDbError::Closed))?
    }

    fn submit<T, E>(
        &self,
        job: impl FnOnce(&Writer) -> Result<T, E> + Send + 'static,
        reply: impl FnOnce(Result<T, E>) + Send + 'static,
    ) -> Result<(), EmbeddedDbError>
    where
        T: Send + 'static,
        E: From<EmbeddedDbError> + Send + 'static,
    {
        let job: Job = Box::new(move |writer| {
            let outcome = job(writer);
            Box::new(move |durable| reply(outcome.and_then(|value| durable.map(|()| value).map_err(E::from))))
        });
        let jobs = self.jobs.read();
        let sender = jobs.as_ref().ok_or(EmbeddedDbError::Closed)?;
        sender.send(job).map_err(|_| EmbeddedDbError::Closed)
    }

    /// Marks the log as open; false if it already is. Two logs on one
    /// database would assign the same offsets twice.
    pub(crate) fn claim_log(&self) -> bool {
        !self.log_open.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn release_log(&self) {
        self.log_open.store(false, Ordering::Release);
    }
}

impl Drop for EmbeddedDb {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where a database directory's disk space goes, in allocated bytes (as `du`
/// counts them, not apparent sizes: fjall preallocates journal files
/// sparsely to 64 MiB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// The write-ahead journal. fjall appends to one journal file until it
    /// passes 64 MB, then starts another and deletes the old one once every
    /// write in it is flushed: the journal holds at most about 64 MB plus
    /// what awaits a flush, deleted data included, and never shrinks in
    /// between.
    pub journal: u64,
    /// Everything else: the tables, where deletions give space back.
    pub tables: u64,
}

impl DiskUsage {
    pub fn of(path: &Path) -> DiskUsage {
        let Ok(entries) = std::fs::read_dir(path) else { return DiskUsage::default() };
        let mut usage = DiskUsage::default();
        for entry in entries.filter_map(Result::ok) {
            let bytes = allocated_bytes(&entry.path());
            if entry.path().extension().is_some_and(|extension| extension == "jnl") {
                usage.journal += bytes;
            } else {
                usage.tables += bytes;
            }
        }
        usage
    }

    pub fn total(&self) -> u64 {
        self.journal + self.tables
    }
}

fn allocated_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.filter_map(Result::ok).map(|entry| allocated_bytes(&entry.path())).sum())
            .unwrap_or_default(),
        Ok(metadata) => metadata.blocks() * 512,
        Err(_) => 0,
    }
}

/// The writer thread: group commit until every sender is gone. A job that
/// panics ends the thread; later writes then fail with `Closed` rather than
/// run against in-memory state the panic may have left half-updated.
fn run_writer(writer: Writer, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let group: Vec<Job> = std::iter::once(first).chain(queue.try_iter()).collect();
        let completions: Vec<Completion> = group.into_iter().map(|job| job(&writer)).collect();
        let durable = persist_group(&writer);
        for complete in completions {
            complete(durable.clone());
        }
    }
    if let Err(error) = writer.database.persist(PersistMode::SyncAll) {
        tracing::error!(%error, "persisting the embedded database at shutdown failed");
    }
}

fn persist_group(writer: &Writer) -> Result<(), EmbeddedDbError> {
    if !writer.wrote.replace(false) {
        return Ok(());
    }
    Ok(writer.database.persist(PersistMode::SyncData)?)
}

/// Key encoding shared by the embedded adapters.
///
/// Keys are concatenated components. Integers are big-endian (signed ones with
/// the sign bit flipped) so byte order is numeric order. Variable-length
/// strings are length-prefixed (u32 BE) so any string, NUL bytes included, is
/// unambiguous; a string that ends the key may be stored raw.
pub(crate) mod keys {
    use std::ops::Bound;

    #[derive(Default)]
    pub struct Key(Vec<u8>);

    impl Key {
        pub fn new() -> Key {
            Key::default()
        }

        pub fn str(mut self, value: &str) -> Key {
            let len = u32::try_from(value.len()).expect("key components are far below 4 GiB");
            self.0.extend_from_slice(&len.to_be_bytes());
            self.0.extend_from_slice(value.as_bytes());
            self
        }

        /// A final component, stored as is.
        pub fn raw(mut self, value: &[u8]) -> Key {
            self.0.extend_from_slice(value);
            self
        }

        pub fn u32(mut self, value: u32) -> Key {
            self.0.extend_from_slice(&value.to_be_bytes());
            self
        }

        pub fn u64(mut self, value: u64) -> Key {
            self.0.extend_from_slice(&value.to_be_bytes());
            self
        }

        pub fn i64(self, value: i64) -> Key {
            self.u64(ordered_i64(value))
        }

        pub fn into_bytes(self) -> Vec<u8> {
            self.0
        }
    }

    fn ordered_i64(value: i64) -> u64 {
        (value as u64) ^ (1 << 63)
    }

    /// Reads back keys built with [`Key`]; `None` if the key is too short.
    pub struct KeyReader<'a>(&'a [u8]);

    impl<'a> KeyReader<'a> {
        pub fn new(key: &'a [u8]) -> KeyReader<'a> {
            KeyReader(key)
        }

        fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
            let (head, rest) = self.0.split_first_chunk::<N>()?;
            self.0 = rest;
            Some(*head)
        }

        pub fn skip_str(&mut self) -> Option<()> {
            let len = u32::from_be_bytes(self.take()?) as usize;
            self.0 = self.0.get(len..)?;
            Some(())
        }

        pub fn u32(&mut self) -> Option<u32> {
            self.take().map(u32::from_be_bytes)
        }

        pub fn u64(&mut self) -> Option<u64> {
            self.take().map(u64::from_be_bytes)
        }

        pub fn i64(&mut self) -> Option<i64> {
            self.u64().map(|value| (value ^ (1 << 63)) as i64)
        }

        pub fn rest(self) -> &'a [u8] {
            self.0
        }
    }

    /// Every key starting with `prefix`.
    pub fn with_prefix(prefix: Vec<u8>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let end = past_prefix(&prefix);
        (Bound::Included(prefix), end)
    }

    /// The bound just past every key starting with `prefix`.
    pub fn past_prefix(prefix: &[u8]) -> Bound<Vec<u8>> {
        let mut end = prefix.to_vec();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                return Bound::Excluded(end);
            }
        }
        Bound::Unbounded
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn length_prefixes_keep_components_apart() {
            let a = Key::new().str("a").str("bc").into_bytes();
            let b = Key::new().str("ab").str("c").into_bytes();
            let nul = Key::new().str("a\0").str("").into_bytes();
            assert_ne!(a, b);
            assert_ne!(Key::new().str("a").str("\0").into_bytes(), nul);
        }

        #[test]
        fn signed_integers_sort_numerically() {
            let values = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
            let keys: Vec<Vec<u8>> = values.iter().map(|&v| Key::new().i64(v).into_bytes()).collect();
            assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
            for (value, key) in values.iter().zip(&keys) {
                assert_eq!(KeyReader::new(key).i64(), Some(*value));
            }
        }

        #[test]
        fn past_prefix_bounds_exactly_the_prefixed_keys() {
            assert_eq!(past_prefix(&[1, 0xFF]), Bound::Excluded(vec![2]));
            assert_eq!(past_prefix(&[0xFF]), Bound::Unbounded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_database_removes_its_directory_when_dropped() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        let path = db.path().to_path_buf();
        assert!(path.exists());
        drop(db);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn writes_after_shutdown_fail_as_closed() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        db.shutdown();
        let result: Result<(), EmbeddedDbError> = db.write(|_| Ok(())).await;
        assert!(matches!(result, Err(EmbeddedDbError::Closed)), "{result:?}");
    }

    #[tokio::test]
    async fn keys_fjall_cannot_store_fail_their_batch() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        for key in [Vec::new(), vec![b'k'; MAX_KEY_LEN + 1]] {
            let len = key.len();
            let result: Result<(), EmbeddedDbError> = db
                .write(move |writer| {
                    let mut batch = writer.batch();
                    batch.insert(&writer.tables().meta, key, b"v".to_vec());
                    writer.commit(batch)
                })
                .await;
            let refused = format!("a key of {len} bytes cannot be stored");
            assert!(
                matches!(&result, Err(EmbeddedDbError::Refused(message)) if message.starts_with(&refused)),
                "{result:?}"
            );
        }
        let still_writable: Result<(), EmbeddedDbError> = db.write(|writer| writer.commit(writer.batch())).await;
        assert!(still_writable.is_ok(), "{still_writable:?}");
    }

    #[tokio::test]
    async fn reads_of_keys_fjall_cannot_store_find_nothing() {
        let db = EmbeddedDb::open_temporary().expect("open_temporary");
        let huge = vec![b'k'; MAX_KEY_LEN + 1];
        assert_eq!(db.get(&db.tables().meta, &huge).expect("get"), None);
        assert_eq!(db.get(&db.tables().meta, &[]).expect("get"), None);
        let range = (Bound::Included(huge.clone()), Bound::Excluded([huge, vec![0xFF]].concat()));
        assert!(db.scan(&db.tables().meta, range, 10).expect("scan").is_empty());
    }
}
