//! What happened to workflows and activities, counted by namespace and type:
//! `temporal_workflow_completed_total`, `temporal_activity_execution_latency`
//! and their siblings; and what schedules did, by namespace
//! (`temporal_schedule_action_success_total`, ...). Shards hand over the
//! measurements of each committed batch; a task of its own names their
//! namespaces (the state machine knows namespace ids; the labels are names,
//! as Temporal's are), so a store read never delays a shard. Should that task fall far behind, measurements are
//! dropped and counted in `temper_metrics_dropped_total` rather than queued
//! without bound.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use prometheus::{HistogramVec, IntCounter, IntCounterVec};
use temper_proto::api::enums::v1::WorkflowExecutionStatus;
use tokio::sync::mpsc;

use super::{bounded_label, counter, counter_vec, histogram_vec, latency_buckets, seconds};
use crate::state_machine::{ActivityEnd, Measurement, ScheduleEvent};
use crate::store::Store;

/// How many committed batches' measurements may wait to be counted.
const QUEUE_CAPACITY: usize = 16_384;

struct WorkflowCounters {
    completed: IntCounterVec,
    failed: IntCounterVec,
    canceled: IntCounterVec,
    terminated: IntCounterVec,
    timed_out: IntCounterVec,
    continued_as_new: IntCounterVec,
}

static WORKFLOWS: LazyLock<WorkflowCounters> = LazyLock::new(|| {
    let family = |name: &str, what: &str| {
        counter_vec(name, &format!("Workflow runs that {what}, by namespace and workflow type."), &["namespace", "workflow_type"])
    };
    WorkflowCounters {
        completed: family("temporal_workflow_completed_total", "completed"),
        failed: family("temporal_workflow_failed_total", "failed"),
        canceled: family("temporal_workflow_canceled_total", "were canceled"),
        terminated: family("temporal_workflow_terminated_total", "were terminated"),
        timed_out: family("temporal_workflow_timeout_total", "timed out"),
        continued_as_new: family("temporal_workflow_continued_as_new_total", "continued as new"),
    }
});

struct ActivityMetrics {
    execution_latency: HistogramVec,
    execution_failed: IntCounterVec,
    completed: IntCounterVec,
    failed: IntCounterVec,
    timed_out: IntCounterVec,
    canceled: IntCounterVec,
}

const ACTIVITY_LABELS: &[&str] = &["namespace", "activity_type"];

static ACTIVITIES: LazyLock<ActivityMetrics> = LazyLock::new(|| {
    let closed = |name: &str, what: &str| {
        counter_vec(name, &format!("Activities that {what} (after their last attempt), by namespace and activity type."), ACTIVITY_LABELS)
    };
    ActivityMetrics {
        execution_latency: histogram_vec(
            "temporal_activity_execution_latency",
            "Seconds from an activity attempt's start to the worker's report of its end, by namespace and activity type.",
            ACTIVITY_LABELS,
            latency_buckets(),
        ),
        execution_failed: counter_vec(
            "temporal_activity_execution_failed_total",
            "Activity attempts their worker reported failed (retried or not), by namespace and activity type.",
            ACTIVITY_LABELS,
        ),
        completed: closed("temporal_activity_completed_total", "completed"),
        failed: closed("temporal_activity_failed_total", "failed"),
        timed_out: closed("temporal_activity_timeout_total", "timed out"),
        canceled: closed("temporal_activity_canceled_total", "were canceled"),
    }
});

/// Temporal's `schedule_*` metrics, by namespace.
struct ScheduleMetrics {
    action_success: IntCounterVec,
    action_delay: HistogramVec,
    missed_catchup_window: IntCounterVec,
    buffer_overruns: IntCounterVec,
}

static SCHEDULES: LazyLock<ScheduleMetrics> = LazyLock::new(|| ScheduleMetrics {
    action_success: counter_vec(
        "temporal_schedule_action_success_total",
        "Workflows schedules started (on their spec, triggered or backfilled), by namespace.",
        &["namespace"],
    ),
    action_delay: histogram_vec(
        "temporal_schedule_action_delay_seconds",
        "Seconds from the time a schedule's action was due to the start of its workflow, by namespace.",
        &["namespace"],
        latency_buckets(),
    ),
    missed_catchup_window: counter_vec(
        "temporal_schedule_missed_catchup_window_total",
        "Times schedules did not act on because they were past the catchup window, by namespace.",
        &["namespace"],
    ),
    buffer_overruns: counter_vec(
        "temporal_schedule_buffer_overruns_total",
        "Times schedules dropped because their buffer of starts was full, by namespace.",
        &["namespace"],
    ),
});

static DROPPED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter("temper_metrics_dropped_total", "Measurements dropped because counting them fell too far behind the shards.")
});

/// Where shards hand the measurements of their committed batches.
#[derive(Clone)]
pub struct OutcomeMetrics {
    queue: mpsc::Sender<Vec<Measurement>>,
}

impl OutcomeMetrics {
    /// Starts counting; namespace names are read from `store`.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, measurements) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(count(measurements, NamespaceNames { store, names: HashMap::new() }));
        OutcomeMetrics { queue }
    }

    /// Counts what a committed batch measured.
    pub fn record(&self, measurements: Vec<Measurement>) {
        if measurements.is_empty() {
            return;
        }
        let count = measurements.len() as u64;
        if self.queue.try_send(measurements).is_err() {
            DROPPED.inc_by(count);
        }
    }
}

async fn count(mut measurements: mpsc::Receiver<Vec<Measurement>>, mut names: NamespaceNames) {
    while let Some(batch) = measurements.recv().await {
        for measurement in batch {
            count_one(&measurement, &mut names).await;
        }
    }
}

async fn count_one(measurement: &Measurement, names: &mut NamespaceNames) {
    match measurement {
        Measurement::WorkflowClosed { namespace_id, workflow_type, status } => {
            let Some(counter) = workflow_counter(*status) else { return };
            let labels = [names.label(namespace_id).await, bounded_label("workflow_type", workflow_type)];
            counter.with_label_values(&labels).inc();
        }
        Measurement::ActivityAttemptReported { namespace_id, activity_type, failed, execution_nanos } => {
            let labels = [names.label(namespace_id).await, bounded_label("activity_type", activity_type)];
            ACTIVITIES.execution_latency.with_label_values(&labels).observe(seconds(*execution_nanos));
            if *failed {
                ACTIVITIES.execution_failed.with_label_values(&labels).inc();
            }
        }
        Measurement::ActivityClosed { namespace_id, activity_type, end } => {
            let labels = [names.label(namespace_id).await, bounded_label("activity_type", activity_type)];
            activity_counter(*end).with_label_values(&labels).inc();
        }
        Measurement::Schedule { namespace_id, event } => {
            let labels = [names.label(namespace_id).await];
            match event {
                ScheduleEvent::ActionSucceeded { delay_nanos } => {
                    SCHEDULES.action_success.with_label_values(&labels).inc();
                    SCHEDULES.action_delay.with_label_values(&labels).observe(seconds(*delay_nanos));
                }
                ScheduleEvent::MissedCatchupWindow => SCHEDULES.missed_catchup_window.with_label_values(&labels).inc(),
                ScheduleEvent::BufferOverrun => SCHEDULES.buffer_overruns.with_label_values(&labels).inc(),
            }
        }
    }
}

fn workflow_counter(status: WorkflowExecutionStatus) -> Option<&'static IntCounterVec> {
    let counters = &*WORKFLOWS;
    match status {
        WorkflowExecutionStatus::Completed => Some(&counters.completed),
        WorkflowExecutionStatus::Failed => Some(&counters.failed),
        WorkflowExecutionStatus::Canceled => Some(&counters.canceled),
        WorkflowExecutionStatus::Terminated => Some(&counters.terminated),
        WorkflowExecutionStatus::TimedOut => Some(&counters.timed_out),
        WorkflowExecutionStatus::ContinuedAsNew => Some(&counters.continued_as_new),
        WorkflowExecutionStatus::Unspecified | WorkflowExecutionStatus::Running | WorkflowExecutionStatus::Paused => None,
    }
}

fn activity_counter(end: ActivityEnd) -> &'static IntCounterVec {
    let metrics = &*ACTIVITIES;
    match end {
        ActivityEnd::Completed => &metrics.completed,
        ActivityEnd::Failed => &metrics.failed,
        ActivityEnd::TimedOut => &metrics.timed_out,
        ActivityEnd::Canceled => &metrics.canceled,
    }
}

/// Namespace names by id, read from the store once per namespace. A
/// namespace renamed later (deleted ones are) keeps the name first read,
/// which is the one its runs were counted under.
struct NamespaceNames {
    store: Arc<dyn Store>,
    names: HashMap<String, String>,
}

impl NamespaceNames {
    async fn label(&mut self, namespace_id: &str) -> String {
        if let Some(name) = self.names.get(namespace_id) {
            return name.clone();
        }
        match self.store.get_namespace_by_id(namespace_id).await {
            Ok(Some(namespace)) => {
                let name = bounded_label("namespace", &namespace.name);
                self.names.insert(namespace_id.to_string(), name.clone());
                name
            }
            // Counted under the id this once; the next measurement asks again.
            _ => bounded_label("namespace", namespace_id),
        }
    }
}
