//! History events: immutable rows in partitions of one run's [`SEGMENT`]
//! consecutive event ids, so no history makes one huge partition.

use std::ops::Range;

use async_trait::async_trait;
use futures::future::try_join_all;
use prost::Message;
use scylla::statement::prepared::PreparedStatement;
use temper_proto::api::history::v1::HistoryEvent;

use super::unlogged::PartitionWrites;
use super::{CassandraError, CassandraStore, Preparer, cql_limit};
use crate::store::{HistoryStore, RawEvent, RunKey, StoreResult};

/// Event ids per history partition.
pub const SEGMENT: i64 = 1_000;

fn segment_of(event_id: i64) -> i64 {
    event_id.div_euclid(SEGMENT)
}

/// The segments that may hold events below `next_event_id`.
pub(super) fn segments_through(next_event_id: i64) -> Range<i64> {
    if next_event_id <= 0 {
        0..0
    } else {
        0..segment_of(next_event_id) + 1
    }
}

pub(super) struct HistoryStatements {
    insert: PreparedStatement,
    read: PreparedStatement,
    delete_segment: PreparedStatement,
}

impl HistoryStatements {
    pub(super) async fn prepare(
        preparer: &Preparer<'_>,
    ) -> Result<HistoryStatements, CassandraError> {
        const PARTITION: &str =
            "namespace_id = ? AND workflow_id = ? AND run_id = ? AND segment = ?";
        Ok(HistoryStatements {
            insert: preparer
                .prepare(
                    "INSERT INTO {ks}.history_event (namespace_id, workflow_id, run_id, segment, event_id, data) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .await?,
            read: preparer
                .prepare(&format!(
                    "SELECT event_id, data FROM {{ks}}.history_event WHERE {PARTITION} AND event_id >= ? LIMIT ?"
                ))
                .await?,
            delete_segment: preparer.prepare(&format!("DELETE FROM {{ks}}.history_event WHERE {PARTITION}")).await?,
        })
    }
}

impl CassandraStore {
    /// Each run segment's events as one partition's writes, packed into few
    /// requests; rewriting an event writes the same row again.
    /// Returns the events as written, for the history cache.
    pub(super) async fn write_history(
        &self,
        history: &[(RunKey, Vec<HistoryEvent>)],
    ) -> Result<Vec<(RunKey, Vec<RawEvent>)>, CassandraError> {
        let encoded: Vec<(RunKey, Vec<RawEvent>)> = history
            .iter()
            .map(|(run, events)| {
                let raw = events
                    .iter()
                    .map(|event| RawEvent { event_id: event.event_id, encoded: bytes::Bytes::from(event.encode_to_vec()) })
                    .collect();
                (run.clone(), raw)
            })
            .collect();
        let mut partitions = Vec::new();
        for (run, events) in &encoded {
            for segment in events.chunk_by(|a, b| segment_of(a.event_id) == segment_of(b.event_id)) {
                partitions.push(self.segment_writes(run, segment));
            }
        }
        self.write_partitions(partitions).await?;
        Ok(encoded)
    }

    fn segment_writes(&self, run: &RunKey, events: &[RawEvent]) -> PartitionWrites {
        let mut writes = PartitionWrites::default();
        let key_bytes = run.namespace_id.len() + run.workflow_id.len() + run.run_id.len() + 16;
        for event in events {
            let row = (
                run.namespace_id.clone(),
                run.workflow_id.clone(),
                run.run_id.clone(),
                segment_of(event.event_id),
                event.event_id,
                event.encoded.to_vec(),
            );
            writes.push(&self.statements.history.insert, row, key_bytes + event.encoded.len());
        }
        writes
    }

    /// One partition tombstone per segment.
    pub(super) async fn delete_history(
        &self,
        run: &RunKey,
        segments: Range<i64>,
    ) -> Result<(), CassandraError> {
        let statement = &self.statements.history.delete_segment;
        let deletions = segments.map(|segment| {
            self.execute(
                statement,
                (&run.namespace_id, &run.workflow_id, &run.run_id, segment),
            )
        });
        try_join_all(deletions).await?;
        Ok(())
    }

    async fn read_segment(
        &self,
        run: &RunKey,
        segment: i64,
        from: i64,
        limit: usize,
    ) -> Result<Vec<RawEvent>, CassandraError> {
        let values = (
            &run.namespace_id,
            &run.workflow_id,
            &run.run_id,
            segment,
            from,
            cql_limit(limit),
        );
        let rows: Vec<(i64, Vec<u8>)> = self.rows(&self.statements.history.read, values).await?;
        Ok(rows
            .into_iter()
            .map(|(event_id, data)| RawEvent {
                event_id,
                encoded: bytes::Bytes::from(data),
            })
            .collect())
    }
}

#[async_trait]
impl HistoryStore for CassandraStore {
    /// Reads segment after segment while each one is full through its last id.
    async fn read_raw_history(
        &self,
        run: &RunKey,
        first_event_id: i64,
        max_events: usize,
    ) -> StoreResult<Vec<RawEvent>> {
        if let Some(events) = self.recent_history.read(run, first_event_id, max_events) {
            return Ok(events);
        }
        let mut events: Vec<RawEvent> = Vec::new();
        let mut from = first_event_id;
        while events.len() < max_events {
            let segment = segment_of(from);
            let found = self
                .read_segment(run, segment, from, max_events - events.len())
                .await?;
            let last_of_segment = (segment + 1) * SEGMENT - 1;
            let reached_its_end = found
                .last()
                .is_some_and(|event| event.event_id == last_of_segment);
            events.extend(found);
            if !reached_its_end {
                break;
            }
            from = last_of_segment + 1;
        }
        Ok(events)
    }
}
