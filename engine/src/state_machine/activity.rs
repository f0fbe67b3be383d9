//! An activity's life inside a run: scheduled, dispatched, started, retried
//! with backoff, and finally completed, failed, timed out or cancelled.
//!
//! As in Temporal, an attempt's ActivityTaskStarted event is written only when
//! the activity closes (with the final attempt number), so retries leave no
//! trace in history but the last failure carried on that event.

use temper_proto::api::common::v1::Payloads;
use temper_proto::api::enums::v1::{RetryState, TimeoutType};
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{Failure, TimeoutFailureInfo};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{
    ActivityTaskCanceledEventAttributes, ActivityTaskCompletedEventAttributes, ActivityTaskFailedEventAttributes,
    ActivityTaskStartedEventAttributes, ActivityTaskTimedOutEventAttributes,
};
use temper_proto::records::{ActivityInfo, TaskKind, TaskRecord};

use super::{ActivityEnd, Effect, Measurement};
use super::history::RunMutation;
use super::retry::{RetryDecision, next_retry, timeout_name};
use crate::time::{deadline, duration_nanos, timestamp_from_nanos, timestamp_nanos};

/// How an activity ended, for its closing event.
pub(super) enum ActivityOutcome {
    Completed { result: Option<Payloads>, identity: String },
    Failed { failure: Failure, identity: String, retry_state: RetryState },
    TimedOut { failure: Failure, retry_state: RetryState },
    Canceled { details: Option<Payloads>, identity: String },
}

/// What a worker that starts an activity attempt needs beyond the scheduled event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityTaskStarted {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub activity_id: String,
    pub first_scheduled_time_nanos: i64,
    pub current_attempt_scheduled_time_nanos: i64,
    pub started_time_nanos: i64,
    pub heartbeat_details: Option<Payloads>,
    pub activity_info: ActivityInfo,
    pub workflow_type: Option<temper_proto::api::common::v1::WorkflowType>,
}

const SERVER_SOURCE: &str = "Server";

pub(super) fn timeout_failure(timeout_type: TimeoutType) -> Failure {
    Failure {
        message: format!("activity {} timeout", timeout_name(timeout_type)),
        source: SERVER_SOURCE.to_string(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: timeout_type as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    }
}

/// When the activity's schedule-to-close timeout ends it, if it has one.
pub fn activity_expiration(activity: &ActivityInfo) -> Option<i64> {
    let schedule_to_close = duration_nanos(activity.schedule_to_close_timeout.as_ref());
    (schedule_to_close > 0).then(|| deadline(at(&activity.first_scheduled_time), schedule_to_close))
}

fn at(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    timestamp.as_ref().map(timestamp_nanos).unwrap_or_default()
}

impl RunMutation<'_> {
    pub(super) fn dispatch_activity(&mut self, scheduled_event_id: i64) {
        let activity = &self.state.activities[&scheduled_event_id];
        let info = self.info();
        let schedule_to_start = duration_nanos(activity.schedule_to_start_timeout.as_ref());
        let expiry = (schedule_to_start > 0).then(|| timestamp_from_nanos(deadline(at(&activity.scheduled_time), schedule_to_start)));
        let record = TaskRecord {
            namespace_id: info.namespace_id.clone(),
            task_queue: activity.task_queue.clone(),
            kind: TaskKind::Activity as i32,
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            scheduled_event_id,
            attempt: activity.attempt,
            scheduled_time: activity.scheduled_time,
            expiry,
            sticky: false,
            trace_context: Default::default(),
        };
        self.effect(Effect::DispatchTask(record));
    }

    /// Starts the current attempt for a worker; heartbeat timing starts now.
    pub(super) fn start_activity(&mut self, scheduled_event_id: i64, request_id: &str, identity: &str) -> ActivityTaskStarted {
        let now = self.now();
        let workflow_type = self.info().workflow_type.clone();
        let activity = self.state.activities.get_mut(&scheduled_event_id).expect("starting a pending activity");
        activity.started_time = Some(timestamp_from_nanos(now));
        activity.started_request_id = request_id.to_string();
        activity.started_identity = identity.to_string();
        activity.last_worker_identity = identity.to_string();
        let heartbeat = duration_nanos(activity.heartbeat_timeout.as_ref());
        activity.heartbeat_timer_nanos = if heartbeat > 0 { deadline(now, heartbeat) } else { 0 };
        started_info(activity, workflow_type)
    }

    /// Ends an activity: writes its (late) started event and its closing
    /// event and forgets it. The caller schedules the workflow task that lets
    /// the workflow react.
    pub(super) fn close_activity(&mut self, scheduled_event_id: i64, outcome: ActivityOutcome) {
        let activity = self.state.activities.remove(&scheduled_event_id).expect("closing a pending activity");
        let end = match &outcome {
            ActivityOutcome::Completed { .. } => ActivityEnd::Completed,
            ActivityOutcome::Failed { .. } => ActivityEnd::Failed,
            ActivityOutcome::TimedOut { .. } => ActivityEnd::TimedOut,
            ActivityOutcome::Canceled { .. } => ActivityEnd::Canceled,
        };
        let namespace_id = self.info().namespace_id.clone();
        let activity_type = activity_type_name(&activity);
        self.effect(Effect::Measure(Measurement::ActivityClosed { namespace_id, activity_type, end }));
        // A held-back started event gets its id at flush time, and the
        // closing event below is re-pointed to it then.
        let started_event_id = if activity.started_time.is_some() {
            self.add_event(Attributes::from(ActivityTaskStartedEventAttributes {
                scheduled_event_id,
                attempt: activity.attempt,
                identity: activity.started_identity.clone(),
                request_id: activity.started_request_id.clone(),
                last_failure: activity.last_failure.clone(),
                ..Default::default()
            }))
        } else {
            0
        };
        let closing = match outcome {
            ActivityOutcome::Completed { result, identity } => Attributes::from(ActivityTaskCompletedEventAttributes {
                result,
                scheduled_event_id,
                started_event_id,
                identity,
                ..Default::default()
            }),
            ActivityOutcome::Failed { failure, identity, retry_state } => {
                Attributes::from(ActivityTaskFailedEventAttributes {
                    failure: Some(failure),
                    scheduled_event_id,
                    started_event_id,
                    identity,
                    retry_state: retry_state as i32,
                    ..Default::default()
                })
            }
            ActivityOutcome::TimedOut { failure, retry_state } => Attributes::from(ActivityTaskTimedOutEventAttributes {
                failure: Some(failure),
                scheduled_event_id,
                started_event_id,
                retry_state: retry_state as i32,
            }),
            ActivityOutcome::Canceled { details, identity } => Attributes::from(ActivityTaskCanceledEventAttributes {
                details,
                latest_cancel_requested_event_id: activity.cancel_requested_event_id,
                scheduled_event_id,
                started_event_id,
                identity,
                ..Default::default()
            }),
        };
        self.add_event(closing);
    }

    /// Counts the end of the started attempt a worker reports, before the
    /// report changes the activity.
    pub(super) fn measure_reported_attempt(&mut self, scheduled_event_id: i64, failed: bool) {
        let activity = &self.state.activities[&scheduled_event_id];
        let started_nanos = activity.started_time.as_ref().map(timestamp_nanos).unwrap_or_default();
        let measurement = Measurement::ActivityAttemptReported {
            namespace_id: self.info().namespace_id.clone(),
            activity_type: activity_type_name(activity),
            failed,
            execution_nanos: self.now().saturating_sub(started_nanos),
        };
        self.effect(Effect::Measure(measurement));
    }

    /// A failed attempt: retries after the policy's backoff when allowed,
    /// otherwise closes the activity as `give_up` says. Returns whether it retries.
    pub(super) fn fail_activity_attempt(
        &mut self,
        scheduled_event_id: i64,
        failure: Failure,
        give_up: impl FnOnce(Failure, RetryState) -> ActivityOutcome,
    ) -> bool {
        let now = self.now();
        let activity = &self.state.activities[&scheduled_event_id];
        let decision = if activity.cancel_requested {
            RetryDecision::GiveUp(RetryState::CancelRequested)
        } else {
            let expiration = activity_expiration(activity).unwrap_or(0);
            let policy = activity.retry_policy.clone().unwrap_or_default();
            next_retry(&policy, activity.attempt, &failure, now, expiration)
        };
        match decision {
            RetryDecision::RetryAfter(backoff) => {
                let activity = self.state.activities.get_mut(&scheduled_event_id).expect("checked above");
                activity.attempt += 1;
                activity.backing_off = true;
                activity.scheduled_time = Some(timestamp_from_nanos(deadline(now, backoff)));
                activity.started_time = None;
                activity.started_request_id.clear();
                activity.started_identity.clear();
                activity.heartbeat_timer_nanos = 0;
                activity.last_failure = Some(failure);
                activity.last_attempt_complete_time = Some(timestamp_from_nanos(now));
                true
            }
            RetryDecision::GiveUp(retry_state) => {
                let outcome = give_up(failure, retry_state);
                self.close_activity(scheduled_event_id, outcome);
                false
            }
        }
    }

    /// The retry backoff is over: the next attempt waits for a worker.
    pub(super) fn dispatch_activity_retry(&mut self, scheduled_event_id: i64) {
        let now = self.now();
        let activity = self.state.activities.get_mut(&scheduled_event_id).expect("retrying a pending activity");
        activity.backing_off = false;
        activity.scheduled_time = Some(timestamp_from_nanos(now));
        self.dispatch_activity(scheduled_event_id);
    }

    /// An activity timeout fired for the current attempt; returns whether the
    /// activity closed (rather than retrying).
    pub(super) fn time_out_activity(&mut self, scheduled_event_id: i64, timeout_type: TimeoutType) -> bool {
        let failure = timeout_failure(timeout_type);
        let schedule_bound = matches!(timeout_type, TimeoutType::ScheduleToStart | TimeoutType::ScheduleToClose);
        if schedule_bound {
            // Deadlines of the whole activity: no attempt can follow.
            let outcome = self.timed_out_outcome(scheduled_event_id, failure, RetryState::Timeout);
            self.close_activity(scheduled_event_id, outcome);
            return true;
        }
        let cause = self.state.activities[&scheduled_event_id].last_failure.clone();
        let details = self.state.activities[&scheduled_event_id].heartbeat_details.clone();
        !self.fail_activity_attempt(scheduled_event_id, failure, move |mut failure, retry_state| {
            if retry_state == RetryState::Timeout {
                // No time left for another attempt before schedule-to-close.
                failure = timeout_failure(TimeoutType::ScheduleToClose);
                failure.message =
                    "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying"
                        .to_string();
            }
            with_timeout_context(&mut failure, details, cause);
            ActivityOutcome::TimedOut { failure, retry_state }
        })
    }

    fn timed_out_outcome(&self, scheduled_event_id: i64, mut failure: Failure, retry_state: RetryState) -> ActivityOutcome {
        let activity = &self.state.activities[&scheduled_event_id];
        with_timeout_context(&mut failure, activity.heartbeat_details.clone(), activity.last_failure.clone());
        ActivityOutcome::TimedOut { failure, retry_state }
    }
}

/// A final timeout carries the last heartbeat details and the failure of the
/// previous attempt as its cause.
fn with_timeout_context(failure: &mut Failure, details: Option<Payloads>, cause: Option<Failure>) {
    if let Some(FailureInfo::TimeoutFailureInfo(info)) = failure.failure_info.as_mut() {
        info.last_heartbeat_details = details;
    }
    failure.cause = cause.map(Box::new);
}

pub(super) fn started_info(
    activity: &ActivityInfo,
    workflow_type: Option<temper_proto::api::common::v1::WorkflowType>,
) -> ActivityTaskStarted {
    ActivityTaskStarted {
        scheduled_event_id: activity.scheduled_event_id,
        attempt: activity.attempt,
        activity_id: activity.activity_id.clone(),
        first_scheduled_time_nanos: at(&activity.first_scheduled_time),
        current_attempt_scheduled_time_nanos: at(&activity.scheduled_time),
        started_time_nanos: at(&activity.started_time),
        heartbeat_details: activity.heartbeat_details.clone(),
        activity_info: activity.clone(),
        workflow_type,
    }
}

fn activity_type_name(activity: &ActivityInfo) -> String {
    activity.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default()
}
