//! Starts a shard processor for every shard this process owns and stops them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost::Message;
use temper_proto::records::WorkflowMutableState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::health::ShardHealth;
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
    /// Bytes of mutable state (as encoded) of recently used runs kept in
    /// memory; by bytes, not runs, since one run may hold tens of thousands
    /// of timers.
    pub state_cache_bytes: u64,
    /// Bytes of workflow-id-to-current-run pointers kept in memory.
    pub current_run_cache_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            shard_count: 4,
            state_machine: Config::default(),
            state_cache_bytes: 32 * 1024 * 1024,
            current_run_cache_bytes: 8 * 1024 * 1024,
        }
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
    health: Arc<ShardHealth>,
    committed: CommittedStates,
}

/// The engine's caches of committed state, for readers in the same process.
/// An entry is only ever a committed state: the shards fill the caches after
/// a commit, and take a run's entry out while a batch changes it, so a hit
/// is what the store holds (or, at worst, the commit just before one in
/// flight) and a miss must be read from the store.
#[derive(Clone)]
pub struct CommittedStates {
    states: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>>,
    current_runs: moka::sync::Cache<WorkflowKey, String>,
}

impl CommittedStates {
    pub fn state(&self, run: &RunKey) -> Option<Arc<WorkflowMutableState>> {
        self.states.get(run)
    }

    pub fn current_run(&self, workflow: &WorkflowKey) -> Option<String> {
        self.current_runs.get(workflow)
    }
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
        let state_cache: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>> = moka::sync::Cache::builder()
            .max_capacity(config.state_cache_bytes)
            .weigher(|run: &RunKey, state: &Arc<WorkflowMutableState>| weight(run_key_bytes(run) + state.encoded_len()))
            .build();
        let current_run_cache: moka::sync::Cache<WorkflowKey, String> = moka::sync::Cache::builder()
            .max_capacity(config.current_run_cache_bytes)
            .weigher(|workflow: &WorkflowKey, run_id: &String| {
                weight(workflow.namespace_id.len() + workflow.workflow_id.len() + run_id.len())
            })
            .build();
        let state_machine = Arc::new(config.state_machine.clone());
        let (shutdown, watcher) = watch::channel(false);
        let restarts = Arc::new(AtomicU64::new(0));
        let health = Arc::new(ShardHealth::new(config.shard_count));
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
                    health: health.clone(),
                };
                tokio::spawn(supervise(context, watcher.clone(), restarts.clone()))
            })
            .collect();
        let committed = CommittedStates { states: state_cache, current_runs: current_run_cache };
        Ok(Engine { shutdown, shards, restarts, health, committed })
    }

    /// Whether each shard can apply commands now, for the gateway.
    pub fn health(&self) -> Arc<ShardHealth> {
        self.health.clone()
    }

    /// What the shards committed, as far as their caches hold it.
    pub fn committed_states(&self) -> CommittedStates {
        self.committed.clone()
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

/// A cache entry's weight: its bytes plus a little for the entry itself.
fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes.saturating_add(64)).unwrap_or(u32::MAX)
}

fn run_key_bytes(run: &RunKey) -> usize {
    run.namespace_id.len() + run.workflow_id.len() + run.run_id.len()
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
