//! Server-side defaults the state machine applies where a request leaves a
//! value unset. Defaults match Temporal's.

use super::Nanos;

const SECOND: Nanos = 1_000_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Workflow task start-to-close timeout when the start request sets none.
    pub default_workflow_task_timeout: Nanos,
    /// Upper bound on a workflow task's start-to-close timeout.
    pub max_workflow_task_timeout: Nanos,
    /// Retry policy values filled in where an activity's policy leaves them unset.
    pub activity_retry: RetryDefaults,
    /// The same for a workflow's retry policy.
    pub workflow_retry: RetryDefaults,
    /// Shortest time from one run's start to the next run's first workflow
    /// task in a chain, so a workflow that continues as new at once does not
    /// spin; Temporal's `history.workflowIdReuseMinimalInterval`.
    pub min_run_interval: Nanos,
    /// Largest payload a workflow may record (activity input, result, ...).
    pub max_payload_bytes: usize,
    /// Longest id or name a workflow task command may carry (activity id,
    /// timer id, marker name, ...), in bytes; Temporal's `limit.maxIDLength`.
    pub max_id_length: usize,
    /// Deepest failure cause chain a workflow task command may carry: the
    /// stored state and log records wrap it in more levels, and protobuf
    /// decodes at most 100.
    pub max_failure_depth: usize,
    /// How large one run may grow.
    pub run_limits: RunLimits,
}

/// How large one run may grow; Temporal's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLimits {
    /// A history longer than this (events, bytes) tells the workflow to
    /// continue as new (`suggest_continue_as_new` on its workflow tasks).
    pub history_count_warn: i64,
    pub history_size_warn_bytes: i64,
    /// Past these the run is terminated, as Temporal does.
    pub history_count_limit: i64,
    pub history_size_limit_bytes: i64,
    /// Most activities a run may have pending at once.
    pub max_pending_activities: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            history_count_warn: 10_240,
            history_size_warn_bytes: 10 * 1024 * 1024,
            history_count_limit: 51_200,
            history_size_limit_bytes: 50 * 1024 * 1024,
            max_pending_activities: 2_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RetryDefaults {
    pub initial_interval: Nanos,
    pub backoff_coefficient: f64,
    /// The maximum interval is this many initial intervals.
    pub maximum_interval_coefficient: f64,
    /// 0 means unlimited.
    pub maximum_attempts: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_workflow_task_timeout: 10 * SECOND,
            max_workflow_task_timeout: 120 * SECOND,
            activity_retry: RetryDefaults {
                initial_interval: SECOND,
                backoff_coefficient: 2.0,
                maximum_interval_coefficient: 100.0,
                maximum_attempts: 0,
            },
            workflow_retry: RetryDefaults {
                initial_interval: SECOND,
                backoff_coefficient: 2.0,
                maximum_interval_coefficient: 100.0,
                maximum_attempts: 0,
            },
            min_run_interval: SECOND,
            max_payload_bytes: 2 * 1024 * 1024,
            max_id_length: 1000,
            max_failure_depth: 64,
            run_limits: RunLimits::default(),
        }
    }
}
