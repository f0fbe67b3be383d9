//! Starts a shard processor for every shard this process owns and stops them.

use std::sync::Arc;

use temper_proto::records::WorkflowMutableState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::Log;
use crate::notify::HistoryNotifier;
use crate::replies::ReplySink;
use crate::shard::{ShardContext, ShardProcessor};
use crate::state_machine::Config;
use crate::store::{RunKey, Store, StoreError, WorkflowKey};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub shard_count: u32,
    pub state_machine: Config,
    /// Runs whose mutable state is kept in memory.
    pub cached_runs: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { shard_count: 4, state_machine: Config::default(), cached_runs: 20_000 }
    }
}

pub struct Engine {
    shutdown: watch::Sender<bool>,
    shards: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Owns every shard: the single-process (`start-dev`) layout.
    pub async fn start(
        config: EngineConfig,
        log: Arc<dyn Log>,
        store: Arc<dyn Store>,
        replies: Arc<dyn ReplySink>,
        notifier: Arc<HistoryNotifier>,
    ) -> Result<Engine, StoreError> {
        store.init_shards(config.shard_count).await?;
        let state_cache: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>> =
            moka::sync::Cache::builder().max_capacity(config.cached_runs).build();
        let current_run_cache: moka::sync::Cache<WorkflowKey, String> =
            moka::sync::Cache::builder().max_capacity(config.cached_runs).build();
        let state_machine = Arc::new(config.state_machine.clone());
        let (shutdown, watcher) = watch::channel(false);
        let shards = (0..config.shard_count)
            .map(|shard_id| {
                let context = ShardContext {
                    shard_id,
                    log: log.clone(),
                    store: store.clone(),
                    replies: replies.clone(),
                    notifier: notifier.clone(),
                    config: state_machine.clone(),
                    state_cache: state_cache.clone(),
                    current_run_cache: current_run_cache.clone(),
                };
                tokio::spawn(ShardProcessor::run(context, watcher.clone()))
            })
            .collect();
        Ok(Engine { shutdown, shards })
    }

    /// Stops every shard after its current batch.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for shard in self.shards {
            let _ = shard.await;
        }
    }
}
