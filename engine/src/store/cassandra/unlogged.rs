//! Independent writes to many partitions in few requests: each
//! single-partition group of writes stays whole, and groups are packed into
//! unlogged batches small enough that Cassandra neither refuses nor warns
//! about them (it checks multi-partition batches against
//! `batch_size_warn_threshold`, 5 KiB by default, and
//! `unlogged_batch_across_partitions_warn_threshold`, 10). A group larger
//! than that is sent alone: a single-partition batch is exempt.
//!
//! Every write here must be idempotent: the driver may retry a batch, and a
//! failed batch may have applied some of its partitions.

use futures::future::try_join_all;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;

use super::{CassandraError, CassandraStore};

/// Below the 5 KiB threshold by a margin: Cassandra also counts what our
/// estimate leaves out (cell and row overhead).
const BATCH_BYTES: usize = 4 * 1024;
const BATCH_PARTITIONS: usize = 10;

type Values = Box<dyn SerializeRow + Send + Sync>;

/// Writes to one partition.
#[derive(Default)]
pub(super) struct PartitionWrites {
    statements: Vec<(PreparedStatement, Values)>,
    /// The key and payload bytes the writes carry: roughly what Cassandra measures.
    bytes: usize,
}

impl PartitionWrites {
    pub(super) fn push(
        &mut self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync + 'static,
        bytes: usize,
    ) {
        self.statements.push((statement.clone(), Box::new(values)));
        self.bytes += bytes;
    }
}

/// Groups packed in order into batches within the thresholds.
fn pack(groups: Vec<PartitionWrites>) -> Vec<Vec<PartitionWrites>> {
    let mut batches: Vec<Vec<PartitionWrites>> = Vec::new();
    let mut bytes = 0;
    for group in groups {
        let full = batches.last().is_none_or(|batch| {
            batch.len() >= BATCH_PARTITIONS || bytes + group.bytes > BATCH_BYTES
        });
        if full {
            bytes = 0;
            batches.push(Vec::new());
        }
        bytes += group.bytes;
        batches.last_mut().expect("pushed above").push(group);
    }
    batches
}

impl CassandraStore {
    /// Sends every group, the batches at once; fails if any batch failed.
    pub(super) async fn write_partitions(
        &self,
        groups: Vec<PartitionWrites>,
    ) -> Result<(), CassandraError> {
        let requests = pack(groups).into_iter().map(|groups| {
            let mut batch = Batch::new(BatchType::Unlogged);
            batch.set_consistency(self.config.consistency);
            batch.set_is_idempotent(true);
            let mut values: Vec<Values> = Vec::new();
            for (statement, value) in groups.into_iter().flat_map(|group| group.statements) {
                batch.append_statement(statement);
                values.push(value);
            }
            async move { self.session.batch(&batch, values).await }
        });
        try_join_all(requests).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(bytes: usize) -> PartitionWrites {
        PartitionWrites { statements: Vec::new(), bytes }
    }

    fn shape(batches: &[Vec<PartitionWrites>]) -> Vec<Vec<usize>> {
        batches
            .iter()
            .map(|batch| batch.iter().map(|group| group.bytes).collect())
            .collect()
    }

    #[test]
    fn groups_share_batches_within_the_byte_budget() {
        let batches = pack(vec![group(2000), group(2000), group(2000), group(100)]);
        assert_eq!(shape(&batches), [vec![2000, 2000], vec![2000, 100]]);
        let batches = pack(vec![group(3000), group(2000)]);
        assert_eq!(shape(&batches), [vec![3000], vec![2000]]);
    }

    #[test]
    fn a_group_over_the_budget_goes_alone() {
        let batches = pack(vec![group(100), group(50_000), group(100)]);
        assert_eq!(shape(&batches), [vec![100], vec![50_000], vec![100]]);
    }

    #[test]
    fn a_batch_spans_at_most_ten_partitions() {
        let batches = pack((0..25).map(|_| group(1)).collect());
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 5]
        );
    }

    #[test]
    fn nothing_to_write_sends_nothing() {
        assert!(pack(Vec::new()).is_empty());
    }
}
