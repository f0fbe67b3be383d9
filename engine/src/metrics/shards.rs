//! How the engine's shards keep up: commands applied and their batches,
//! commit latency, how far each shard trails its `commands` partition and
//! its outbox trails its commits, how late timers fire, and how often the
//! state caches answer.
//!
//! The lags are sampled: each processor keeps its [`ShardProgress`] current
//! (atomics, no I/O on its path), and one task per engine compares it with
//! the log's end every [`SAMPLE_INTERVAL`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use dashmap::DashMap;
use prometheus::{Histogram, IntCounter, IntCounterVec, IntGaugeVec};
use tokio::sync::watch;

use super::{counter, counter_vec, gauge_vec, histogram, latency_buckets, seconds};
use crate::log::{Log, LogName};
use crate::store::ShardId;

const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

static COMMANDS_APPENDED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec("temper_commands_appended_total", "Commands this process's gateway appended to the commands log, by command.", &["command"])
});

static COMMANDS_APPLIED: LazyLock<IntCounter> =
    LazyLock::new(|| counter("temper_commands_applied_total", "Commands from the commands log applied by this process's shards."));

static BATCH_SIZE: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "temper_commit_batch_size",
        "Commands applied per shard commit.",
        vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0],
    )
});

static COMMIT_LATENCY: LazyLock<Histogram> =
    LazyLock::new(|| histogram("temper_commit_latency_seconds", "Seconds a shard's commit to the store took.", latency_buckets()));

static TIMER_LAG: LazyLock<Histogram> = LazyLock::new(|| {
    histogram("temper_timer_lag_seconds", "Seconds between a durable timer's due time and its firing.", latency_buckets())
});

static SHARD_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "temper_shard_lag",
        "Commands appended to a shard's partition and not applied yet (log end minus applied offset), per shard held here.",
        &["shard"],
    )
});

static OUTBOX_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "temper_outbox_lag",
        "Outbox records a shard committed and has not appended to the logs yet, per shard held here.",
        &["shard"],
    )
});

/// The caches whose lookups are counted.
#[derive(Clone, Copy)]
pub enum Cache {
    MutableState,
    CurrentRun,
    History,
}

/// Hit and miss counters of each cache, looked up once.
static CACHE_REQUESTS: LazyLock<[[IntCounter; 2]; 3]> = LazyLock::new(|| {
    let family = counter_vec(
        "temper_cache_requests_total",
        "Lookups in the engine's caches, by cache (mutable_state, current_run, history) and result (hit, miss).",
        &["cache", "result"],
    );
    ["mutable_state", "current_run", "history"]
        .map(|cache| [family.with_label_values(&[cache, "hit"]), family.with_label_values(&[cache, "miss"])])
});

/// Counts a command a gateway appended (`command` is its kind, a bounded set).
pub fn command_appended(command: &'static str) {
    COMMANDS_APPENDED.with_label_values(&[command]).inc();
}

/// Counts a batch of `commands` applied and committed in `commit_nanos`.
pub fn commands_committed(commands: usize, commit_nanos: i64) {
    if commands > 0 {
        COMMANDS_APPLIED.inc_by(commands as u64);
        BATCH_SIZE.observe(commands as f64);
    }
    COMMIT_LATENCY.observe(seconds(commit_nanos));
}

/// Observes a timer firing `late_nanos` after it was due.
pub fn timer_fired(late_nanos: i64) {
    TIMER_LAG.observe(seconds(late_nanos));
}

/// Counts a cache lookup.
pub fn cache_lookup(cache: Cache, hit: bool) {
    CACHE_REQUESTS[cache as usize][usize::from(!hit)].inc();
}

/// A held shard's progress, as its processor last committed it.
pub struct ShardProgress {
    applied_offset: AtomicI64,
    next_outbox_seq: AtomicI64,
    outbox_appended: watch::Receiver<i64>,
}

impl ShardProgress {
    pub fn new(applied_offset: i64, next_outbox_seq: i64, outbox_appended: watch::Receiver<i64>) -> Self {
        ShardProgress {
            applied_offset: AtomicI64::new(applied_offset),
            next_outbox_seq: AtomicI64::new(next_outbox_seq),
            outbox_appended,
        }
    }

    pub fn committed(&self, applied_offset: i64, next_outbox_seq: i64) {
        self.applied_offset.store(applied_offset, Ordering::Relaxed);
        self.next_outbox_seq.store(next_outbox_seq, Ordering::Relaxed);
    }

    fn outbox_lag(&self) -> i64 {
        (self.next_outbox_seq.load(Ordering::Relaxed) - 1 - *self.outbox_appended.borrow()).max(0)
    }
}

/// The shards an engine holds, for sampling their lags.
#[derive(Clone, Default)]
pub struct HeldShards(Arc<DashMap<ShardId, Arc<ShardProgress>>>);

impl HeldShards {
    pub fn held(&self, shard: ShardId, progress: Arc<ShardProgress>) {
        self.0.insert(shard, progress);
    }

    pub fn let_go(&self, shard: ShardId) {
        self.0.remove(&shard);
    }

    /// Samples the lags of the held shards until the engine drops its
    /// `HeldShards`. The task holds the shards and the log only weakly: an
    /// engine that stops releases its log (a restarted engine reopens it).
    pub fn sample_lags(&self, log: &Arc<dyn Log>) {
        let held = Arc::downgrade(&self.0);
        let log = Arc::downgrade(log);
        tokio::spawn(async move {
            let mut reported: HashSet<ShardId> = HashSet::new();
            let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let (Some(held), Some(log)) = (held.upgrade(), log.upgrade()) else { break };
                let shards: Vec<(ShardId, Arc<ShardProgress>)> =
                    held.iter().map(|entry| (*entry.key(), entry.value().clone())).collect();
                drop(held);
                for shard in reported.difference(&shards.iter().map(|(shard, _)| *shard).collect()) {
                    let _ = SHARD_LAG.remove_label_values(&[&shard.to_string()]);
                    let _ = OUTBOX_LAG.remove_label_values(&[&shard.to_string()]);
                }
                reported = shards.iter().map(|(shard, _)| *shard).collect();
                for (shard, progress) in shards {
                    let label = shard.to_string();
                    OUTBOX_LAG.with_label_values(&[&label]).set(progress.outbox_lag());
                    if let Ok(end) = log.end_offset(LogName::Commands, shard).await {
                        let applied = progress.applied_offset.load(Ordering::Relaxed);
                        SHARD_LAG.with_label_values(&[&label]).set((end as i64 - 1 - applied).max(0));
                    }
                }
            }
        });
    }
}
