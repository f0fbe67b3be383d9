//! Outbox records: a slice of the shard partition ordered by sequence.

use async_trait::async_trait;
use temper_proto::records::OutboxRecord;

use super::{CassandraError, CassandraStore, keys};
use crate::store::{OutboxStore, ShardId, StoreResult};

/// Sorts after every outbox key (they are 8 bytes long).
const PAST_EVERY_SEQ: [u8; 9] = [0xff; 9];

#[async_trait]
impl OutboxStore for CassandraStore {
    async fn read_outbox(
        &self,
        shard_id: ShardId,
        from_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, OutboxRecord)>> {
        let range = (keys::outbox(from_seq), PAST_EVERY_SEQ.to_vec());
        let rows = self
            .slice_rows(shard_id, keys::OUTBOX, range, limit, "outbox record")
            .await?;
        let records: Result<Vec<_>, CassandraError> = rows
            .into_iter()
            .map(|(key, record)| Ok((keys::outbox_seq_of(&key)?, record)))
            .collect();
        Ok(records?)
    }
}
