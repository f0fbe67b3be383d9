//! Mutable states and current-run pointers: rows of the shard partition.

use async_trait::async_trait;
use temper_proto::records::{CurrentRun, WorkflowMutableState};

use super::{CassandraStore, keys};
use crate::store::{ExecutionStore, RunKey, ShardId, StoreResult, WorkflowKey};

#[async_trait]
impl ExecutionStore for CassandraStore {
    async fn get_current_run(
        &self,
        shard_id: ShardId,
        workflow: &WorkflowKey,
    ) -> StoreResult<Option<CurrentRun>> {
        Ok(self
            .get_row(
                shard_id,
                keys::CURRENT_RUN,
                keys::current_run(workflow),
                "current run",
            )
            .await?)
    }

    async fn get_execution(
        &self,
        shard_id: ShardId,
        run: &RunKey,
    ) -> StoreResult<Option<WorkflowMutableState>> {
        Ok(self
            .get_row(shard_id, keys::EXECUTION, keys::execution(run), "execution")
            .await?)
    }
}
