//! Timers: a slice of the shard partition ordered by fire time, then id.

use async_trait::async_trait;
use temper_proto::records::TimerTask;

use super::{CassandraStore, keys};
use crate::store::{ShardId, StoreResult, TimerKey, TimerStore};

#[async_trait]
impl TimerStore for CassandraStore {
    async fn load_timers(
        &self,
        shard_id: ShardId,
        from: &TimerKey,
        before_nanos: i64,
        limit: usize,
    ) -> StoreResult<Vec<(TimerKey, TimerTask)>> {
        // Every key firing at `before_nanos` starts with these 8 bytes and is
        // longer, so it sorts after them: the bound excludes it.
        let range = (keys::timer(from), keys::ordered_i64(before_nanos).to_vec());
        let rows = self
            .slice_rows(shard_id, keys::TIMER, range, limit, "timer")
            .await?;
        let timers: Result<Vec<_>, super::CassandraError> = rows
            .into_iter()
            .map(|(key, timer)| Ok((keys::timer_of(&key)?, timer)))
            .collect();
        Ok(timers?)
    }
}
