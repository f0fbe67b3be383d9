//! Starts a shard processor for every shard this process owns and stops
//! them: every shard in single-process mode, or, in cluster mode, the
//! shards assigned to this engine among the live engines.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost::Message;
use temper_proto::records::WorkflowMutableState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::health::ShardHealth;
use crate::log::Log;
use crate::membership::{MemberRole, Membership, assignment};
use crate::notify::HistoryNotifier;
use crate::replies::ReplySink;
use crate::shard::ownership::{Ownership, OwnershipMode};
use crate::metrics::outcomes::OutcomeMetrics;
use crate::metrics::shards::HeldShards;
use crate::shard::{EngineMetrics, ShardContext, ShardProcessor, panic_message};
use crate::state_machine::Config;
use crate::store::{RunKey, ShardId, Store, StoreError, WorkflowKey};

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
    /// The shard supervisors (single-process), or the coordinator (cluster).
    tasks: Vec<JoinHandle<()>>,
    restarts: Arc<AtomicU64>,
    health: Arc<ShardHealth>,
    committed: CommittedStates,
    ownership: Arc<Ownership>,
    assigned: Arc<watch::Sender<BTreeSet<ShardId>>>,
    membership: Option<Arc<Membership>>,
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
        let parts = Arc::new(Parts::new(&config, log, store, replies, notifier, OwnershipMode::Static));
        let (shutdown, watcher) = watch::channel(false);
        let tasks = (0..config.shard_count)
            .map(|shard_id| tokio::spawn(supervise(parts.context(shard_id), watcher.clone(), parts.restarts.clone())))
            .collect();
        let assigned = Arc::new(watch::channel((0..config.shard_count).collect()).0);
        Ok(parts.engine(shutdown, tasks, assigned, None))
    }

    /// One engine of several sharing the shards: owns the shards
    /// [`assignment::assign`] gives it among the live engines of
    /// `membership`'s view, and follows the view as engines join and leave
    /// (see [`crate::membership`] and `shard::ownership`).
    pub async fn start_member(
        config: EngineConfig,
        log: Arc<dyn Log>,
        store: Arc<dyn Store>,
        replies: Arc<dyn ReplySink>,
        notifier: Arc<HistoryNotifier>,
        membership: Arc<Membership>,
    ) -> Result<Engine, StoreError> {
        store.init_shards(config.shard_count).await?;
        let mode = OwnershipMode::Leased { membership: membership.clone() };
        let parts = Arc::new(Parts::new(&config, log, store, replies, notifier, mode));
        let (shutdown, watcher) = watch::channel(false);
        let assigned = Arc::new(watch::channel(BTreeSet::new()).0);
        let mut coordinator = Coordinator {
            parts: parts.clone(),
            membership: membership.clone(),
            assigned: assigned.clone(),
            running: BTreeMap::new(),
        };
        // The first assignment before returning, so `assigned_shards` is
        // never the empty set of an engine that has not looked yet.
        coordinator.reconcile(&coordinator.engines());
        let tasks = vec![tokio::spawn(coordinator.run(watcher))];
        Ok(parts.engine(shutdown, tasks, assigned, Some(membership)))
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

    /// Shards whose processor currently holds the shard (took it, and has
    /// not stopped).
    pub fn owned_shards(&self) -> watch::Receiver<BTreeSet<ShardId>> {
        self.ownership.owned()
    }

    /// Shards this engine should own: every shard in single-process mode,
    /// its share of the live engines' in cluster mode. Ready when it equals
    /// [`Engine::owned_shards`].
    pub fn assigned_shards(&self) -> watch::Receiver<BTreeSet<ShardId>> {
        self.assigned.subscribe()
    }

    /// How many times a processor was fenced out by another owner's epoch.
    /// A graceful handover fences nobody; a takeover after a lease ran out
    /// fences the old owner if it comes back.
    pub fn ownership_losses(&self) -> u64 {
        self.ownership.losses()
    }

    /// Stops every shard after its current batch (releasing leased shards,
    /// so other engines take them at once). Does not leave the membership:
    /// the caller does, once nothing else of the process needs it.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// For tests: stops as a crash would. The heartbeat stops, and the
    /// processors are dropped mid-work without stopping or releasing their
    /// shards, whose rows still name this engine until others take them.
    pub async fn crash_for_test(self) {
        if let Some(membership) = &self.membership {
            membership.stop_heartbeating();
        }
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        self.ownership.forget_all();
    }
}

/// What the shards of one engine share, and how each's context is made.
struct Parts {
    log: Arc<dyn Log>,
    store: Arc<dyn Store>,
    replies: Arc<dyn ReplySink>,
    notifier: Arc<HistoryNotifier>,
    shard_count: u32,
    state_machine: Arc<Config>,
    state_cache: moka::sync::Cache<RunKey, Arc<WorkflowMutableState>>,
    current_run_cache: moka::sync::Cache<WorkflowKey, String>,
    health: Arc<ShardHealth>,
    restarts: Arc<AtomicU64>,
    ownership: Arc<Ownership>,
    metrics: EngineMetrics,
}

/// The engine's metrics: outcome counts, and a sampler of the lags of the
/// shards it holds, which ends with the engine.
fn engine_metrics(log: &Arc<dyn Log>, store: &Arc<dyn Store>) -> EngineMetrics {
    let held = HeldShards::default();
    held.sample_lags(log);
    EngineMetrics { outcomes: OutcomeMetrics::start(store.clone()), held }
}

impl Parts {
    fn new(
        config: &EngineConfig,
        log: Arc<dyn Log>,
        store: Arc<dyn Store>,
        replies: Arc<dyn ReplySink>,
        notifier: Arc<HistoryNotifier>,
        mode: OwnershipMode,
    ) -> Parts {
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
        let metrics = engine_metrics(&log, &store);
        Parts {
            log,
            store,
            replies,
            notifier,
            shard_count: config.shard_count,
            state_machine: Arc::new(config.state_machine.clone()),
            state_cache,
            current_run_cache,
            health: Arc::new(ShardHealth::new(config.shard_count)),
            restarts: Arc::new(AtomicU64::new(0)),
            ownership: Arc::new(Ownership::new(mode)),
            metrics,
        }
    }

    fn context(&self, shard_id: ShardId) -> ShardContext {
        ShardContext {
            shard_id,
            log: self.log.clone(),
            store: self.store.clone(),
            replies: self.replies.clone(),
            notifier: self.notifier.clone(),
            config: self.state_machine.clone(),
            state_cache: self.state_cache.clone(),
            current_run_cache: self.current_run_cache.clone(),
            health: self.health.clone(),
            ownership: self.ownership.clone(),
            metrics: self.metrics.clone(),
        }
    }

    fn engine(
        &self,
        shutdown: watch::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
        assigned: Arc<watch::Sender<BTreeSet<ShardId>>>,
        membership: Option<Arc<Membership>>,
    ) -> Engine {
        Engine {
            shutdown,
            tasks,
            restarts: self.restarts.clone(),
            health: self.health.clone(),
            committed: CommittedStates { states: self.state_cache.clone(), current_runs: self.current_run_cache.clone() },
            ownership: self.ownership.clone(),
            assigned,
            membership,
        }
    }
}

/// How often the coordinator looks again without a change of view: to
/// start a shard whose previous processor has finished stopping.
const RECONCILE_INTERVAL: Duration = Duration::from_millis(100);

/// Runs a processor for every shard assigned to this engine among the live
/// engines, and stops those no longer assigned here.
struct Coordinator {
    parts: Arc<Parts>,
    membership: Arc<Membership>,
    assigned: Arc<watch::Sender<BTreeSet<ShardId>>>,
    running: BTreeMap<ShardId, RunningShard>,
}

/// A shard's supervised processor and its own stop signal. Dropping it
/// (the coordinator aborted) drops the processor without stopping it.
struct RunningShard {
    stop: watch::Sender<bool>,
    supervisor: AbortOnDrop,
}

impl Coordinator {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut view = self.membership.view(MemberRole::Engine);
        while !*shutdown.borrow() {
            view.mark_unchanged();
            self.reconcile(&self.engines());
            tokio::select! {
                _ = view.changed() => {}
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
            }
        }
        for shard in self.running.values() {
            let _ = shard.stop.send(true);
        }
        for (_, mut shard) in std::mem::take(&mut self.running) {
            let _ = (&mut shard.supervisor.0).await;
        }
    }

    /// The ids of the live engines, as the membership last saw them.
    fn engines(&self) -> Vec<String> {
        self.membership.view(MemberRole::Engine).borrow().iter().map(|member| member.id.clone()).collect()
    }

    fn reconcile(&mut self, engines: &[String]) {
        let mine = shards_of(&self.membership.member().id, self.parts.shard_count, engines);
        self.assigned.send_if_modified(|assigned| {
            let changed = *assigned != mine;
            if changed {
                tracing::info!(shards = ?mine, engines = ?engines, "shards assigned to this engine");
                *assigned = mine.clone();
            }
            changed
        });
        // A shard that finished stopping is started afresh if it is
        // assigned here again.
        self.running.retain(|_, shard| !shard.supervisor.0.is_finished());
        for (shard_id, shard) in &self.running {
            if !mine.contains(shard_id) {
                shard.stop.send_if_modified(|stop| !std::mem::replace(stop, true));
            }
        }
        for shard_id in mine {
            if !self.running.contains_key(&shard_id) {
                let (stop, stopped) = watch::channel(false);
                let supervisor = tokio::spawn(supervise(self.parts.context(shard_id), stopped, self.parts.restarts.clone()));
                self.running.insert(shard_id, RunningShard { stop, supervisor: AbortOnDrop(supervisor) });
            }
        }
    }
}

/// The shards `member` owns among `engines`: none if it is not among them
/// (its own heartbeat lapsed, so others may take its shards).
fn shards_of(member: &str, shard_count: u32, engines: &[String]) -> BTreeSet<ShardId> {
    let Some(me) = engines.iter().position(|id| id == member) else { return BTreeSet::new() };
    let owners = assignment::assign(shard_count, engines);
    (0..shard_count).filter(|shard| owners[*shard as usize] == me).collect()
}

/// A task aborted when its handle is dropped, so what it spawned goes with
/// whoever spawned it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
/// down, or fenced out by another owner in single-process mode).
async fn supervise(context: ShardContext, shutdown: watch::Receiver<bool>, restarts: Arc<AtomicU64>) {
    let shard_id = context.shard_id;
    let mut pause = RESTART_PAUSE;
    loop {
        let mut processor = AbortOnDrop(tokio::spawn(ShardProcessor::run(context.clone(), shutdown.clone())));
        let panic = match (&mut processor.0).await {
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
