//! Projections: consumers of the `visibility` log that keep the visibility
//! index (the store's visibility table) up to date. Each summary carries a
//! version, so a record published twice after a crash changes nothing; a
//! run's last summary, published when its retention ran out, removes it.
//! The log is trimmed behind the stored offsets.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use temper_engine::log::trimmer::LogTrimmer;
use temper_engine::log::{Log, LogError, LogName, LogRecord};
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
            Err(LogError::Trimmed { oldest, .. }) if oldest > progress.applied => {
                // Another projection process applied and trimmed these
                // records into the shared index (it trims only behind its
                // stored offset), so they are in the index already.
                tracing::info!(partition, from = progress.applied, to = oldest, "skipping visibility records another projection applied and trimmed");
                progress.applied = oldest;
            }
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

#[cfg(test)]
mod tests {
    use temper_engine::embedded_db::EmbeddedDb;

    use super::*;

    fn summary(n: i64) -> bytes::Bytes {
        VisibilityRecord { namespace_id: "ns".into(), workflow_id: format!("wf-{n}"), run_id: format!("run-{n}"), version: 1, ..Default::default() }
            .encode_to_vec()
            .into()
    }

    /// Two projection processes share the index; the one ahead trims the
    /// log behind its stored offset. The one behind must read on from what
    /// is left rather than retry the trimmed offset forever.
    #[tokio::test]
    async fn a_projection_behind_a_trim_reads_on_from_the_oldest_record() {
        let (log, store) = EmbeddedDb::temporary_log_and_store();
        log.append(LogName::Visibility, 0, (0..10).map(summary).collect()).await.expect("summaries appended");
        log.trim(LogName::Visibility, 0, 6).await.expect("trimmed by the projection ahead");

        let (stop, stopped) = watch::channel(false);
        let projecting = tokio::spawn(run(log, store.clone(), stopped));
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.get_consumer_offset(CONSUMER, LogName::Visibility, 0).await.expect("offset").unwrap_or(0) < 10 {
            assert!(Instant::now() < deadline, "the records after the trim were never applied");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for n in 6..10 {
            let found = store.get_visibility("ns", &format!("wf-{n}"), &format!("run-{n}")).await.expect("read");
            assert!(found.is_some(), "summary {n} applied");
        }
        stop.send(true).expect("stopping");
        projecting.await.expect("the projection stops");
    }
}
