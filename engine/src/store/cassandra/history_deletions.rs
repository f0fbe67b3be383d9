//! Deleting a run's history without ever orphaning it.
//!
//! A run's history lives outside the shard partition, so the commit that
//! deletes the run cannot delete it atomically, and deleting it first would
//! let a fenced commit change something. Instead the commit writes a
//! pending-deletion row (kind [`keys::HISTORY_DELETION`], keyed like the
//! run's state, holding its number of history segments) in the same
//! conditional batch. The history partitions are deleted after the batch;
//! the row is then deleted by the shard's next commit. A crash in between
//! leaves the row, and whoever takes the shard next deletes what it names
//! before processing anything, so no history outlives its run.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use super::{CassandraError, CassandraStore, keys};
use crate::store::{RunKey, ShardId};

/// Rows read per slice when taking over leftover deletions.
const LEFTOVERS_PER_READ: usize = 100;

/// Per shard, the pending-deletion rows whose histories are gone: the shard's
/// next commit deletes them.
#[derive(Default)]
pub(super) struct FinishedDeletions(Mutex<HashMap<ShardId, Vec<Vec<u8>>>>);

impl FinishedDeletions {
    fn add(&self, shard_id: ShardId, rows: impl IntoIterator<Item = Vec<u8>>) {
        let mut finished = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        finished.entry(shard_id).or_default().extend(rows);
    }

    /// The rows for a commit to delete; hand them back with `restore` if it fails.
    pub(super) fn take(&self, shard_id: ShardId) -> Vec<Vec<u8>> {
        let mut finished = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        finished.remove(&shard_id).unwrap_or_default()
    }

    pub(super) fn restore(&self, shard_id: ShardId, rows: Vec<Vec<u8>>) {
        self.add(shard_id, rows);
    }
}

/// A pending-deletion row's value: how many history segments the run has.
pub(super) fn row_data(segments: &Range<i64>) -> Vec<u8> {
    segments.end.to_be_bytes().to_vec()
}

fn segments_of(data: &[u8]) -> Result<Range<i64>, CassandraError> {
    let end: [u8; 8] = data
        .try_into()
        .map_err(|_| CassandraError::Corrupt(format!("pending history deletion {data:?}")))?;
    Ok(0..i64::from_be_bytes(end).max(0))
}

impl CassandraStore {
    /// Deletes the histories of runs a commit just deleted; their rows are
    /// then left for the next commit to delete. A failure leaves a row for
    /// the shard's next owner, so it is only logged.
    pub(super) async fn delete_committed_histories(
        &self,
        shard_id: ShardId,
        runs: Vec<(RunKey, Range<i64>)>,
    ) {
        let deletions = runs.into_iter().map(|(run, segments)| async move {
            match self.delete_history(&run, segments).await {
                Ok(()) => Some(keys::execution(&run)),
                Err(error) => {
                    tracing::warn!(shard = shard_id, run_id = %run.run_id, %error, "deleting a run's history failed; the shard's next owner deletes it");
                    None
                }
            }
        });
        let finished = futures::future::join_all(deletions).await;
        self.finished_history_deletions
            .add(shard_id, finished.into_iter().flatten());
    }

    /// Deletes the histories that pending-deletion rows of the shard still
    /// name (a crash came between a deletion's commit and its history's
    /// removal); the shard's next commit deletes the rows.
    pub(super) async fn finish_leftover_history_deletions(
        &self,
        shard_id: ShardId,
    ) -> Result<(), CassandraError> {
        let mut from = Vec::new();
        loop {
            let rows: Vec<(Vec<u8>, Vec<u8>)> = self
                .slice_raw_rows(
                    shard_id,
                    keys::HISTORY_DELETION,
                    (from.clone(), keys::PAST_EVERY_KEY.to_vec()),
                    LEFTOVERS_PER_READ,
                )
                .await?;
            let Some((last, _)) = rows.last() else { return Ok(()) };
            from = keys::successor(last);
            let full = rows.len() == LEFTOVERS_PER_READ;
            let mut runs = Vec::with_capacity(rows.len());
            for (key, data) in rows {
                runs.push((keys::execution_of(&key)?, segments_of(&data)?));
            }
            self.delete_committed_histories(shard_id, runs).await;
            if !full {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_holds_the_segment_count() {
        assert_eq!(segments_of(&row_data(&(0..3))).expect("decodes"), 0..3);
        assert!(segments_of(b"short").is_err());
    }

    #[test]
    fn finished_rows_are_taken_once_per_shard_and_can_be_restored() {
        let finished = FinishedDeletions::default();
        finished.add(1, [vec![1], vec![2]]);
        finished.add(2, [vec![9]]);
        assert_eq!(finished.take(1), [vec![1], vec![2]]);
        assert!(finished.take(1).is_empty());
        finished.restore(1, vec![vec![3]]);
        assert_eq!(finished.take(1), [vec![3]]);
        assert_eq!(finished.take(2), [vec![9]]);
    }
}
