//! Prometheus metrics. Every role of a process registers into one registry,
//! which the gateway serves on its metrics endpoint (`/metrics`).
//!
//! Names follow Temporal's where Temporal's users know them
//! (`temporal_workflow_completed`, `temporal_task_queue_length`, ...) and
//! carry a `temper_` prefix for what is Temper's own (shards, the log, the
//! outbox, projections). Counters end in `_total` and durations are in
//! seconds, as Prometheus' conventions (and `promtool check metrics`) ask.
//!
//! Label values that come from users (namespaces, workflow and activity
//! types, task queues) are bounded: past [`LABEL_VALUES_LIMIT`] distinct
//! values of one label, further values are counted as `_other_`, so a
//! workload with many types cannot grow the exposition without bound.
//! Workflow and run ids never appear in labels.

pub mod outcomes;
pub mod shards;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use parking_lot::Mutex;
use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// How many distinct values one user-derived label may take.
pub const LABEL_VALUES_LIMIT: usize = 500;

/// The value counted for user-derived labels past the limit.
pub const OTHER_LABEL_VALUE: &str = "_other_";

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

static SEEN_LABEL_VALUES: LazyLock<Mutex<HashMap<&'static str, HashSet<String>>>> = LazyLock::new(Default::default);

/// The process's metrics in Prometheus' text exposition format.
pub fn encode_text() -> String {
    let mut buffer = Vec::new();
    // Encoding into memory fails only for metrics that cannot be encoded at
    // all (an invalid name), which registration refuses already.
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buffer);
    String::from_utf8(buffer).unwrap_or_default()
}

/// The content type of [`encode_text`]'s output.
pub fn text_content_type() -> &'static str {
    prometheus::TEXT_FORMAT
}

/// `value` for label `label`, or [`OTHER_LABEL_VALUE`] once the label has
/// [`LABEL_VALUES_LIMIT`] other values.
pub fn bounded_label(label: &'static str, value: &str) -> String {
    let mut seen = SEEN_LABEL_VALUES.lock();
    let values = seen.entry(label).or_default();
    if values.contains(value) {
        return value.to_string();
    }
    if values.len() >= LABEL_VALUES_LIMIT {
        return OTHER_LABEL_VALUE.to_string();
    }
    values.insert(value.to_string());
    value.to_string()
}

fn register<M: prometheus::core::Collector + Clone + 'static>(metric: M) -> M {
    // Each metric is registered once, from its `LazyLock`; a second
    // registration of a name would be a programming error caught by tests.
    REGISTRY.register(Box::new(metric.clone())).expect("a metric name registered twice");
    metric
}

/// A counter without labels, registered.
pub fn counter(name: &str, help: &str) -> IntCounter {
    register(IntCounter::new(name, help).expect("a valid counter definition"))
}

/// A histogram without labels, registered.
pub fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    register(Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("a valid histogram definition"))
}

/// A counter family, registered.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter definition"))
}

/// A gauge family, registered.
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge definition"))
}

/// A histogram family with `buckets`, registered.
pub fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    register(HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("a valid histogram definition"))
}

/// Buckets for durations from a millisecond to a few minutes, in seconds.
pub fn latency_buckets() -> Vec<f64> {
    vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]
}

/// Seconds from nanoseconds, for observing durations.
pub fn seconds(nanos: i64) -> f64 {
    nanos.max(0) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_label_values_are_bounded() {
        for i in 0..LABEL_VALUES_LIMIT {
            assert_eq!(bounded_label("test_bound", &format!("v{i}")), format!("v{i}"));
        }
        assert_eq!(bounded_label("test_bound", "one too many"), OTHER_LABEL_VALUE);
        assert_eq!(bounded_label("test_bound", "v7"), "v7", "values seen before keep their label");
        assert_eq!(bounded_label("test_other_label", "v"), "v", "each label has its own bound");
    }
}
