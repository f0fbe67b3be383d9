//! Publishes a shard's outbox: task dispatches to the `tasks` log, run
//! summaries to the `visibility` log and commands for other workflows to the
//! `commands` log. What was published is deleted by the
//! shard's next commit ([`PublishedOutbox`]), not by a write of its own. What a
//! crash interrupts, or what no commit has deleted yet, is published again on
//! restart; consumers tolerate duplicates (a task is validated when started,
//! a summary carries a version, a command between workflows is deduplicated
//! by its request id or by the state it finds).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use prost::Message;
use temper_proto::records::OutboxRecord;
use temper_proto::records::outbox_record::Record;
use tokio::sync::{mpsc, watch};

use crate::log::{Log, LogName};
use crate::traces;
use opentelemetry::KeyValue;
use crate::partitioning::{shard_of, task_partition_of};
use crate::store::{ShardId, Store};

const READ_LIMIT: usize = 1000;

pub(super) struct OutboxPublisher {
    pub shard_id: ShardId,
    /// The shard's next outbox sequence number when it was taken: records
    /// below it are an earlier owner's leftovers; the rest come from this
    /// owner's commits, through the channel `run` reads.
    pub leftovers_before: i64,
    pub log: Arc<dyn Log>,
    pub store: Arc<dyn Store>,
    pub published: Arc<PublishedOutbox>,
    /// The highest outbox sequence number appended to the logs: batches are
    /// published in order, so everything below it is appended too.
    pub appended_through: watch::Sender<i64>,
}

/// The outbox records published and not yet deleted, as one range of
/// sequence numbers: records are published in sequence order (what an
/// earlier owner left first), so what lies between two published records was
/// published or deleted already, and deleting it again is harmless.
#[derive(Default)]
pub(super) struct PublishedOutbox(Mutex<Option<(i64, i64)>>);

impl PublishedOutbox {
    fn add(&self, from: i64, through: i64) {
        let mut range = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *range = Some(match *range {
            Some((first, last)) => (first.min(from), last.max(through)),
            None => (from, through),
        });
    }

    /// The range for a commit to delete; hand it back with
    /// [`PublishedOutbox::restore`] if that commit fails.
    pub fn take(&self) -> Option<(i64, i64)> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }

    pub fn restore(&self, range: Option<(i64, i64)>) {
        if let Some((from, through)) = range {
            self.add(from, through);
        }
    }
}

impl OutboxPublisher {
    /// Publishes what an earlier owner left, then whatever arrives on `records`.
    pub async fn run(self, mut records: mpsc::UnboundedReceiver<Vec<(i64, OutboxRecord)>>) {
        self.publish_leftovers().await;
        while let Some(mut batch) = records.recv().await {
            while let Ok(more) = records.try_recv() {
                batch.extend(more);
            }
            self.publish_until_done(batch).await;
        }
    }

    async fn publish_leftovers(&self) {
        let mut from = 0;
        loop {
            let leftovers = match self.store.read_outbox(self.shard_id, from, READ_LIMIT).await {
                Ok(records) => records,
                Err(error) => {
                    tracing::error!(shard = self.shard_id, %error, "reading the outbox failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Some((last, _)) = leftovers.last() else { return };
            from = last + 1;
            // Later records are this owner's: publishing them here as well
            // would publish them twice.
            let leftovers: Vec<_> = leftovers.into_iter().filter(|(seq, _)| *seq < self.leftovers_before).collect();
            let done = from >= self.leftovers_before;
            self.publish_until_done(leftovers).await;
            if done {
                return;
            }
        }
    }

    async fn publish_until_done(&self, batch: Vec<(i64, OutboxRecord)>) {
        let (Some(from), Some(through)) = (batch.iter().map(|(seq, _)| *seq).min(), batch.iter().map(|(seq, _)| *seq).max())
        else {
            return;
        };
        let traced: Vec<opentelemetry::Context> = batch.iter().filter_map(|(_, record)| trace_context_of(record).and_then(traces::context_from)).collect();
        let records = batch.len() as i64;
        let started = SystemTime::now();
        let grouped = self.group_by_partition(batch);
        loop {
            match self.publish(&grouped, from, through).await {
                Ok(()) => {
                    let published = SystemTime::now();
                    for parent in &traced {
                        let attributes = vec![KeyValue::new("temper.shard", i64::from(self.shard_id)), KeyValue::new("temper.records", records)];
                        traces::record_span(parent, "outbox.publish", started, published, attributes);
                    }
                    return;
                }
                Err(error) => {
                    tracing::error!(shard = self.shard_id, %error, "publishing the outbox failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Records per destination partition, in outbox order.
    fn group_by_partition(&self, batch: Vec<(i64, OutboxRecord)>) -> BTreeMap<(LogName, u32), Vec<Bytes>> {
        let layout = self.log.layout();
        let mut grouped: BTreeMap<(LogName, u32), Vec<Bytes>> = BTreeMap::new();
        for (_, record) in batch {
            let (destination, payload) = match record.record {
                Some(Record::Task(task)) => (
                    (LogName::Tasks, task_partition_of(&task.namespace_id, &task.task_queue, layout.tasks)),
                    task.encode_to_vec(),
                ),
                Some(Record::Visibility(summary)) => (
                    (LogName::Visibility, shard_of(&summary.namespace_id, &summary.workflow_id, layout.visibility)),
                    summary.encode_to_vec(),
                ),
                Some(Record::Command(command)) => (
                    (LogName::Commands, shard_of(&command.namespace_id, &command.workflow_id, layout.commands)),
                    command.encode_to_vec(),
                ),
                None => continue,
            };
            grouped.entry(destination).or_default().push(Bytes::from(payload));
        }
        grouped
    }

    /// Appends every group, then marks outbox records `from..=through`
    /// published (a batch's sequence numbers are contiguous).
    async fn publish(&self, grouped: &BTreeMap<(LogName, u32), Vec<Bytes>>, from: i64, through: i64) -> Result<(), String> {
        let appends = grouped
            .iter()
            .map(|((log, partition), records)| self.log.append(*log, *partition, records.clone()));
        for result in futures::future::join_all(appends).await {
            result.map_err(|e| e.to_string())?;
        }
        self.published.add(from, through);
        self.appended_through.send_if_modified(|appended| std::mem::replace(appended, (*appended).max(through)) < through);
        Ok(())
    }
}

/// The trace context an outbox record carries, if its command was traced.
fn trace_context_of(record: &OutboxRecord) -> Option<&HashMap<String, String>> {
    match &record.record {
        Some(Record::Task(task)) => Some(&task.trace_context),
        Some(Record::Visibility(summary)) => Some(&summary.trace_context),
        Some(Record::Command(command)) => Some(&command.trace_context),
        None => None,
    }
}
