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

/// The consumer name under which the projection's progress is stored.
pub const CONSUMER: &str = "visibility-projection";
const BATCH: usize = 1000;
const RETRY_PAUSE: Duration = Duration::from_millis(500);

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
    let mut next = loop {
        match store.get_consumer_offset(CONSUMER, LogName::Visibility, partition).await {
            Ok(offset) => break offset.unwrap_or(0),
            Err(error) => {
                tracing::error!(partition, %error, "reading the projection's offset failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    };
    let mut trimmer = LogTrimmer::new(log.clone(), LogName::Visibility, partition);
    loop {
        let records = tokio::select! {
            _ = shutdown.changed() => return,
            records = log.read(LogName::Visibility, partition, next, BATCH) => records,
        };
        match records {
            Ok(records) => match apply(&store, partition, &records).await {
                Ok(Some(last)) => {
                    next = last + 1;
                    // The offset is stored: the records before it are done with.
                    trimmer.consumed_before(next);
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

/// Stores a batch of summaries, then the progress; returns the last offset.
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
    store.set_consumer_offset(CONSUMER, LogName::Visibility, partition, last + 1).await.map_err(|e| e.to_string())?;
    Ok(Some(last))
}
