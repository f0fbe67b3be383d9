//! Projections: consumers of the `visibility` log that keep the visibility
//! index (the store's visibility table) up to date. Each summary carries a
//! version, so a record published twice after a crash changes nothing; a
//! run's last summary, published when its retention ran out, removes it.
//! The log is trimmed behind the stored offsets.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use temper_engine::log::trimmer::LogTrimmer;
use temper_engine::log::{Log, LogName, LogRecord};
use temper_engine::store::Store;
use temper_proto::records::VisibilityRecord;
use tokio::sync::watch;
use tokio::time::Instant;

/// The consumer name under which the projection's progress is stored.
pub const CONSUMER: &str = "visibility-projection";
const BATCH: usize = 1000;
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// The longest a partition's applied offset goes unstored.
const OFFSET_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the projection of every `visibility` partition until `shutdown` turns true.
pub async fn run(log: Arc<dyn Log>, store: Arc<dyn Store>, shutdown: watch::Receiver<bool>) {
    let partitions = log.layout().visibility;
    let consumers: Vec<_> = (0..partitions)
        .map(|partition| tokio::spawn(project_partition(log.clone(), store.clone(), partition, shutdown.clone())))
        .collect();
    for consumer in consumers {
        let _ = consumer.await;
    }
}

async fn project_partition(log: Arc<dyn Log>, store: Arc<dyn Store>, partition: u32, mut shutdown: watch::Receiver<bool>) {
    let stored = loop {
        match store.get_consumer_offset(CONSUMER, LogName::Visibility, partition).await {
            Ok(offset) => break offset.unwrap_or(0),
            Err(error) => {
                tracing::error!(partition, %error, "reading the projection's offset failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    };
    let mut progress = Progress {
        trimmer: LogTrimmer::new(log.clone(), LogName::Visibility, partition),
        store: store.clone(),
        partition,
        applied: stored,
        stored,
        stored_at: Instant::now(),
    };
    loop {
        let records = tokio::select! {
            _ = shutdown.changed() => {
                progress.store_offset().await;
                return;
            }
            _ = tokio::time::sleep_until(progress.stored_at + OFFSET_INTERVAL), if progress.unstored() => {
                progress.store_offset().await;
                continue;
            }
            records = log.read(LogName::Visibility, partition, progress.applied, BATCH) => records,
        };
        match records {
            Ok(records) => match apply(&store, partition, &records).await {
                Ok(Some(last)) => {
                    progress.applied = last + 1;
                    if progress.stored_at.elapsed() >= OFFSET_INTERVAL {
                        progress.store_offset().await;
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(partition, %error, "updating the visibility index failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            },
            Err(error) => {
                tracing::error!(partition, %error, "reading the visibility log failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// How far a partition is applied, and how far that is stored. The offset is
/// stored at most every [`OFFSET_INTERVAL`] rather than after every batch: a
/// restart applies the records since again, which changes nothing (each
/// summary carries a version), and the store is spared a write per batch.
struct Progress {
    trimmer: LogTrimmer,
    store: Arc<dyn Store>,
    partition: u32,
    applied: u64,
    stored: u64,
    stored_at: Instant,
}

impl Progress {
    fn unstored(&self) -> bool {
        self.applied > self.stored
    }

    /// Stores the applied offset if it moved; a failure is retried at the next chance.
    async fn store_offset(&mut self) {
        self.stored_at = Instant::now();
        if !self.unstored() {
            return;
        }
        let applied = self.applied;
        match self.store.set_consumer_offset(CONSUMER, LogName::Visibility, self.partition, applied).await {
            Ok(()) => {
                self.stored = applied;
                // Stored: the records before it are done with.
                self.trimmer.consumed_before(applied);
            }
            Err(error) => tracing::warn!(partition = self.partition, %error, "storing the projection's offset failed"),
        }
    }
}

/// Stores a batch of summaries; returns the last offset.
async fn apply(store: &Arc<dyn Store>, partition: u32, records: &[LogRecord]) -> Result<Option<u64>, String> {
    let Some(last) = records.last().map(|r| r.offset) else { return Ok(None) };
    let summaries: Vec<VisibilityRecord> = records
        .iter()
        .filter_map(|record| match VisibilityRecord::decode(record.payload.as_ref()) {
            Ok(summary) => Some(summary),
            Err(error) => {
                tracing::error!(partition, offset = record.offset, %error, "skipping an undecodable visibility record");
                None
            }
        })
        .collect();
    store.upsert_visibility(summaries).await.map_err(|e| e.to_string())?;
    Ok(Some(last))
}
