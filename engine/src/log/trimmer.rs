//! Trims a log partition behind its consumer's durable progress: the
//! `commands` partition of a shard behind its applied offset, a `visibility`
//! partition behind the projection's stored offset. A record below that point
//! is never read again (the consumer resumes after it). Trimming every few
//! records, not on every commit, keeps the tombstones it writes few and large.

use std::sync::Arc;

use super::{Log, LogName, Offset};

/// Records consumed between two trims.
pub const TRIM_EVERY: u64 = 1024;

pub struct LogTrimmer {
    log: Arc<dyn Log>,
    name: LogName,
    partition: u32,
    /// Records below this were trimmed (or a trim of them is under way).
    trimmed_before: Offset,
}

impl LogTrimmer {
    pub fn new(log: Arc<dyn Log>, name: LogName, partition: u32) -> Self {
        LogTrimmer { log, name, partition, trimmed_before: 0 }
    }

    /// Called once every record below `next` is durably consumed. The trim
    /// runs on its own task, so the consumer does not wait for it; a failed
    /// one is redone by the next (a trim only moves a partition's start
    /// forward). Must run inside a tokio runtime.
    pub fn consumed_before(&mut self, next: Offset) {
        if next < self.trimmed_before.saturating_add(TRIM_EVERY) {
            return;
        }
        self.trimmed_before = next;
        let (log, name, partition) = (self.log.clone(), self.name, self.partition);
        tokio::spawn(async move {
            if let Err(error) = log.trim(name, partition, next).await {
                tracing::warn!(log = %name, partition, %error, "trimming failed; the next trim retries");
            }
        });
    }
}
