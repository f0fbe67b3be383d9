//! Starts a shard processor for every shard this process owns and stops them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use temper_proto::records::WorkflowMutableState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::Log;
use crate::notify::HistoryNotifier;
use crate::replies::ReplySink;
use crate::shard::{ShardContext, ShardProcessor, panic_message};
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

/// Pause before restarting a shard processor that died; doubled on each
/// further death up to the maximum, so a processor that keeps dying does not
/// spin.
const RESTART_PAUSE: Duration = Duration::from_millis(100);
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(10);

pub struct Engine {
    shutdown: watch::Sender<bool>,
    shards: Vec<JoinHandle<()>>,
    restarts: Arc<AtomicU64>,
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
        let restarts = Arc::new(AtomicU64::new(0));
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
                tokio::spawn(supervise(context, watcher.clone(), restarts.clone()))
            })
            .collect();
        Ok(Engine { shutdown, shards, restarts })
    }

    /// How many times a shard processor died and was restarted.
    pub fn shard_restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Stops every shard after its current batch.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for shard in self.shards {
            let _ = shard.await;
        }
    }
}

/// Runs a shard's processor and restarts it should it die: a bug must cost
/// a restart (the shard is acquired again and resumes from its applied
/// offset), never the shard. Ends when the processor stops by itself (shut
/// down, or fenced out by another owner).
async fn supervise(context: ShardContext, shutdown: watch::Receiver<bool>, restarts: Arc<AtomicU64>) {
    let shard_id = context.shard_id;
    let mut pause = RESTART_PAUSE;
    loop {
        let processor = tokio::spawn(ShardProcessor::run(context.clone(), shutdown.clone()));
        let panic = match processor.await {
            Err(error) if error.is_panic() => error.into_panic(),
            _ => return,
        };
        restarts.fetch_add(1, Ordering::Relaxed);
        tracing::error!(shard = shard_id, panic = %panic_message(panic.as_ref()), "the shard processor died; restarting it");
        tokio::time::sleep(pause).await;
        if *shutdown.borrow() {
            return;
        }
        pause = (pause * 2).min(MAX_RESTART_PAUSE);
    }
}
