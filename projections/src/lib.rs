//! Projections: consumers of the `visibility` log that keep the visibility
//! index ([`index::VisibilityIndex`], an embedded SQLite database) up to
//! date. Each batch is applied together with the log offset it reaches, so
//! a restart resumes exactly where the index stands; each summary carries a
//! version, so a record published twice changes nothing; a run's last
//! summary, published when its retention ran out, removes it. The log is
//! trimmed behind what the index applied.

pub mod index;
mod lag;
pub mod query;
pub mod reader;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use prost::Message;
use temper_engine::traces;
use temper_engine::log::trimmer::LogTrimmer;
use temper_engine::log::{Log, LogError, LogName, LogRecord};
use temper_proto::records::VisibilityRecord;
use tokio::sync::watch;

use crate::index::VisibilityIndex;

const BATCH: usize = 1000;
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Who trims the `visibility` log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trimming {
    /// The only projection trims behind what its index applied.
    BehindThisIndex,
    /// Several projections processes each keep a full copy: none may trim
    /// what another has not applied, so none trims, and the log is bounded
    /// by its own retention (Kafka's `retention.ms`).
    Never,
}

/// Runs the projection of every `visibility` partition into `index` until `shutdown` turns true.
pub async fn run(log: Arc<dyn Log>, index: Arc<VisibilityIndex>, trimming: Trimming, shutdown: watch::Receiver<bool>) {
    let partitions = log.layout().visibility;
    let lag = Arc::new(lag::ProjectionLag::default());
    let consumers: Vec<_> = (0..partitions)
        .map(|partition| tokio::spawn(project_partition(log.clone(), index.clone(), partition, trimming, lag.clone(), shutdown.clone())))
        .collect();
    for consumer in consumers {
        let _ = consumer.await;
    }
}

async fn project_partition(
    log: Arc<dyn Log>,
    index: Arc<VisibilityIndex>,
    partition: u32,
    trimming: Trimming,
    lag: Arc<lag::ProjectionLag>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = loop {
        match index.applied(partition).await {
            Ok(offset) => break offset,
            Err(error) => {
                tracing::error!(partition, %error, "reading the index's applied offset failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    };
    let mut trimmer = (trimming == Trimming::BehindThisIndex).then(|| LogTrimmer::new(log.clone(), LogName::Visibility, partition));
    // What the index applied before a restart is done with too.
    if let Some(trimmer) = trimmer.as_mut() {
        trimmer.consumed_before(next);
    }
    loop {
        let records = tokio::select! {
            _ = shutdown.changed() => return,
            records = log.read(LogName::Visibility, partition, next, BATCH) => records,
        };
        let (mut summaries, reached) = match records {
            Ok(records) => match records.last() {
                Some(last) => (decode(partition, &records), last.offset + 1),
                None => continue,
            },
            Err(LogError::Trimmed { oldest, .. }) if oldest > next => {
                // Trimmed before this index applied them (the log was
                // trimmed behind another consumer, or the index file was
                // replaced by an older one): they cannot be had any more.
                tracing::warn!(partition, from = next, to = oldest, "visibility records trimmed before the index applied them");
                (Vec::new(), oldest)
            }
            Err(error) => {
                tracing::error!(partition, %error, "reading the visibility log failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let traced = take_trace_contexts(&mut summaries);
        let applying = SystemTime::now();
        loop {
            match index.apply(partition, summaries.clone(), reached).await {
                Ok(()) => {
                    lag.applied(&summaries, temper_engine::time::now_nanos());
                    record_apply_spans(&traced, partition, summaries.len(), applying);
                    break;
                }
                Err(error) => {
                    tracing::error!(partition, %error, "updating the visibility index failed; retrying");
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
        }
        next = reached;
        // Applied and committed: the records before it are done with.
        if let Some(trimmer) = trimmer.as_mut() {
            trimmer.consumed_before(next);
        }
    }
}

/// The trace contexts the summaries carry, taken out of them: the index
/// keeps summaries, not traces.
fn take_trace_contexts(summaries: &mut [VisibilityRecord]) -> Vec<opentelemetry::Context> {
    summaries.iter_mut().filter_map(|summary| traces::context_from(&std::mem::take(&mut summary.trace_context))).collect()
}

/// A `projection.apply` span for each traced summary of a batch applied since `applying`.
fn record_apply_spans(traced: &[opentelemetry::Context], partition: u32, batch_size: usize, applying: SystemTime) {
    let applied = SystemTime::now();
    for parent in traced {
        let attributes = vec![KeyValue::new("temper.partition", i64::from(partition)), KeyValue::new("temper.batch_size", batch_size as i64)];
        traces::record_span(parent, "projection.apply", applying, applied, attributes);
    }
}

/// The batch's summaries; an undecodable record is skipped.
fn decode(partition: u32, records: &[LogRecord]) -> Vec<VisibilityRecord> {
    records
        .iter()
        .filter_map(|record| match VisibilityRecord::decode(record.payload.as_ref()) {
            Ok(summary) => Some(summary),
            Err(error) => {
                tracing::error!(partition, offset = record.offset, %error, "skipping an undecodable visibility record");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use temper_engine::embedded_db::EmbeddedDb;
    use tokio::time::Instant;

    use super::*;

    fn summary(n: i64) -> bytes::Bytes {
        VisibilityRecord { namespace_id: "ns".into(), workflow_id: format!("wf-{n}"), run_id: format!("run-{n}"), version: 1, ..Default::default() }
            .encode_to_vec()
            .into()
    }

    /// The log was trimmed past what the index applied (by a consumer
    /// ahead of it). The projection must read on from what is left rather
    /// than retry the trimmed offset forever, and record how far it got.
    #[tokio::test]
    async fn a_projection_behind_a_trim_reads_on_from_the_oldest_record() {
        let (log, _store) = EmbeddedDb::temporary_log_and_store();
        log.append(LogName::Visibility, 0, (0..10).map(summary).collect()).await.expect("summaries appended");
        log.trim(LogName::Visibility, 0, 6).await.expect("trimmed by the consumer ahead");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let index = VisibilityIndex::open(&directory.path().join("visibility.db")).expect("the index opens");

        let (stop, stopped) = watch::channel(false);
        let projecting = tokio::spawn(run(log, index.clone(), Trimming::BehindThisIndex, stopped));
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(index.wait_applied(0, 10, deadline).await, "the records after the trim were never applied");
        for n in 0..10 {
            let found = index.get("ns", &format!("run-{n}")).await.expect("read");
            assert_eq!(found.is_some(), n >= 6, "summary {n}");
        }
        stop.send(true).expect("stopping");
        projecting.await.expect("the projection stops");
    }

    /// A restarted projection resumes at the offset the index stored with
    /// its last batch, and applies what was appended since.
    #[tokio::test]
    async fn a_restarted_projection_resumes_where_the_index_stands() {
        let (log, _store) = EmbeddedDb::temporary_log_and_store();
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("visibility.db");
        log.append(LogName::Visibility, 0, (0..5).map(summary).collect()).await.expect("appended");
        {
            let index = VisibilityIndex::open(&path).expect("the index opens");
            let (stop, stopped) = watch::channel(false);
            let projecting = tokio::spawn(run(log.clone(), index.clone(), Trimming::BehindThisIndex, stopped));
            assert!(index.wait_applied(0, 5, Instant::now() + Duration::from_secs(10)).await, "applied");
            stop.send(true).expect("stopping");
            projecting.await.expect("the projection stops");
        }
        log.append(LogName::Visibility, 0, (5..8).map(summary).collect()).await.expect("appended");
        let index = VisibilityIndex::open(&path).expect("the index reopens");
        assert_eq!(index.applied(0).await.expect("applied"), 5, "the stored offset");
        let (stop, stopped) = watch::channel(false);
        let projecting = tokio::spawn(run(log, index.clone(), Trimming::BehindThisIndex, stopped));
        assert!(index.wait_applied(0, 8, Instant::now() + Duration::from_secs(10)).await, "applied after the restart");
        for n in 0..8 {
            assert!(index.get("ns", &format!("run-{n}")).await.expect("read").is_some(), "summary {n}");
        }
        stop.send(true).expect("stopping");
        projecting.await.expect("the projection stops");
    }
}
