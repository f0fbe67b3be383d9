//! How far each consumer got in each log partition: one row each.

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;

use super::{CassandraError, CassandraStore, Preparer};
use crate::log::{LogName, Offset};
use crate::store::{ConsumerOffsetStore, StoreResult};

pub(super) struct ConsumerOffsetStatements {
    get: PreparedStatement,
    set: PreparedStatement,
}

impl ConsumerOffsetStatements {
    pub(super) async fn prepare(
        preparer: &Preparer<'_>,
    ) -> Result<ConsumerOffsetStatements, CassandraError> {
        Ok(ConsumerOffsetStatements {
            get: preparer
                .prepare(
                    "SELECT log_offset FROM {ks}.consumer_offset WHERE consumer = ? AND log = ? AND log_partition = ?",
                )
                .await?,
            set: preparer
                .prepare(
                    "INSERT INTO {ks}.consumer_offset (consumer, log, log_partition, log_offset) VALUES (?, ?, ?, ?)",
                )
                .await?,
        })
    }
}

#[async_trait]
impl ConsumerOffsetStore for CassandraStore {
    async fn get_consumer_offset(
        &self,
        consumer: &str,
        log: LogName,
        partition: u32,
    ) -> StoreResult<Option<Offset>> {
        let values = (consumer, log.as_str(), partition as i32);
        let row: Option<(i64,)> = self
            .first_row(&self.statements.consumer_offsets.get, values)
            .await?;
        // Stored as CQL's signed bigint; offsets never reach 2^63.
        Ok(row.map(|(offset,)| offset as Offset))
    }

    async fn set_consumer_offset(
        &self,
        consumer: &str,
        log: LogName,
        partition: u32,
        offset: Offset,
    ) -> StoreResult<()> {
        let values = (consumer, log.as_str(), partition as i32, offset as i64);
        self.execute(&self.statements.consumer_offsets.set, values)
            .await?;
        Ok(())
    }
}
