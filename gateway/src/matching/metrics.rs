//! Matching's metrics: the backlog of each task queue
//! (`temporal_task_queue_length`, sampled), tasks handed straight to a
//! waiting poll (sync match) or queued, polls by outcome, and the long polls
//! open now.
//!
//! Sticky queues (one per worker, named by the worker) are counted together
//! as `_sticky_`, so workers coming and going do not add labels.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use prometheus::{IntCounterVec, IntGaugeVec};
use temper_engine::metrics::{bounded_label, counter_vec, gauge_vec};
use temper_proto::records::TaskKind;
use tokio::sync::watch;

use crate::gateway::Gateway;

const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

pub const STICKY_QUEUES_LABEL: &str = "_sticky_";

static QUEUE_LENGTH: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "temporal_task_queue_length",
        "Tasks waiting in a task queue for a poller, by namespace, task queue and kind (workflow, activity).",
        &["namespace", "task_queue", "kind"],
    )
});

static OFFERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "temporal_task_queue_tasks_total",
        "Tasks offered to task queues, by kind and whether a waiting poll took them at once (sync_match) or they queued (backlog).",
        &["kind", "match"],
    )
});

static POLLS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "temporal_task_queue_polls_total",
        "Long polls answered, by kind and outcome (task, query, empty).",
        &["kind", "outcome"],
    )
});

static OPEN_POLLS: LazyLock<IntGaugeVec> =
    LazyLock::new(|| gauge_vec("temper_open_long_polls", "Long polls waiting for a task now, by kind.", &["kind"]));

pub fn kind_label(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Workflow => "workflow",
        TaskKind::Activity => "activity",
        _ => "unspecified",
    }
}

/// Counts a task offered to a queue.
pub fn task_offered(kind: TaskKind, sync_match: bool) {
    OFFERED.with_label_values(&[kind_label(kind), if sync_match { "sync_match" } else { "backlog" }]).inc();
}

/// Counts a poll's outcome.
pub fn poll_answered(kind: TaskKind, outcome: &'static str) {
    POLLS.with_label_values(&[kind_label(kind), outcome]).inc();
}

/// Counts a long poll open while it lives.
pub struct OpenPoll(TaskKind);

impl OpenPoll {
    pub fn new(kind: TaskKind) -> OpenPoll {
        OPEN_POLLS.with_label_values(&[kind_label(kind)]).inc();
        OpenPoll(kind)
    }
}

impl Drop for OpenPoll {
    fn drop(&mut self) {
        OPEN_POLLS.with_label_values(&[kind_label(self.0)]).dec();
    }
}

/// Samples the backlog of every queue with one, until `stopped`.
pub async fn sample_queue_lengths(gateway: Arc<Gateway>, mut stopped: watch::Receiver<bool>) {
    let mut reported: HashSet<[String; 3]> = HashSet::new();
    loop {
        let mut lengths: HashMap<[String; 3], i64> = HashMap::new();
        for (key, counts, sticky) in gateway.matching.queue_backlogs() {
            let namespace = match gateway.namespaces.by_id(&key.namespace_id).await {
                Ok(namespace) => namespace.name,
                Err(_) => key.namespace_id.clone(),
            };
            let task_queue = if sticky { STICKY_QUEUES_LABEL.to_string() } else { bounded_label("task_queue", &key.name) };
            let labels = [bounded_label("namespace", &namespace), task_queue, kind_label(key.kind).to_string()];
            *lengths.entry(labels).or_default() += counts as i64;
        }
        for gone in reported.difference(&lengths.keys().cloned().collect()) {
            let _ = QUEUE_LENGTH.remove_label_values(&[&gone[0], &gone[1], &gone[2]]);
        }
        for (labels, length) in &lengths {
            QUEUE_LENGTH.with_label_values(&[&labels[0], &labels[1], &labels[2]]).set(*length);
        }
        reported = lengths.into_keys().collect();
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
    }
}
