//! Named, partitioned, append-only logs.
//!
//! Three logs carry Temper's traffic: `commands` (gateway -> engine, one
//! partition per shard), `tasks` (engine outbox -> matching) and `visibility`
//! (engine outbox -> projections). Which process consumes which partition is
//! decided outside the log: the engine by shard ownership in the store, so an
//! adapter only has to offer append and read-from-offset.
//!
//! Every adapter must pass [`conformance`].

pub mod conformance;
pub mod embedded;
pub mod kafka;
pub mod trimmer;

use async_trait::async_trait;
use bytes::Bytes;

/// Position of a record within one partition. The first record has offset 0.
pub type Offset = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogName {
    Commands,
    Tasks,
    Visibility,
}

impl LogName {
    pub const ALL: [LogName; 3] = [LogName::Commands, LogName::Tasks, LogName::Visibility];

    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Commands => "commands",
            LogName::Tasks => "tasks",
            LogName::Visibility => "visibility",
        }
    }
}

impl std::fmt::Display for LogName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many partitions each log has. Fixed when the log is first created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLayout {
    pub commands: u32,
    pub tasks: u32,
    pub visibility: u32,
}

impl LogLayout {
    pub fn partitions(&self, log: LogName) -> u32 {
        match log {
            LogName::Commands => self.commands,
            LogName::Tasks => self.tasks,
            LogName::Visibility => self.visibility,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: Offset,
    pub payload: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log `{log}` has no partition {partition} (it has {partitions})")]
    NoSuchPartition { log: LogName, partition: u32, partitions: u32 },
    #[error("offset {offset} of log `{log}` partition {partition} was trimmed; the oldest kept is {oldest}")]
    Trimmed { log: LogName, partition: u32, offset: Offset, oldest: Offset },
    #[error("the log was created with {stored:?} but {requested:?} was requested; partition counts cannot change")]
    LayoutMismatch { stored: LogLayout, requested: LogLayout },
    #[error("the log is shut down")]
    Closed,
    #[error("log storage failed: {0}")]
    Storage(String),
}

#[async_trait]
pub trait Log: Send + Sync + 'static {
    /// The partition count of every log.
    fn layout(&self) -> LogLayout;

    /// Appends `records` to one partition, in order, and returns the offset of
    /// the first. Resolves once the records are durable. The records of one
    /// call are contiguous unless another process appends to the same
    /// partition at the same time (several gateways or engines on Kafka).
    async fn append(&self, log: LogName, partition: u32, records: Vec<Bytes>) -> Result<Offset, LogError>;

    /// Returns up to `max` records with offsets at or after `from`, in order.
    /// Waits until at least one exists. Dropping the future loses nothing.
    async fn read(&self, log: LogName, partition: u32, from: Offset, max: usize) -> Result<Vec<LogRecord>, LogError>;

    /// The offset the next appended record will get.
    async fn end_offset(&self, log: LogName, partition: u32) -> Result<Offset, LogError>;

    /// Discards records below `before`; they may no longer be read.
    async fn trim(&self, log: LogName, partition: u32, before: Offset) -> Result<(), LogError>;
}

/// Checks a partition number against the layout; shared by adapters.
pub fn check_partition(layout: &LogLayout, log: LogName, partition: u32) -> Result<(), LogError> {
    let partitions = layout.partitions(log);
    if partition < partitions {
        Ok(())
    } else {
        Err(LogError::NoSuchPartition { log, partition, partitions })
    }
}
