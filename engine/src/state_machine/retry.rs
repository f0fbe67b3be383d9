//! Activity retries: whether a failure may be retried and after how long,
//! computed by the server from the activity's retry policy.

use temper_proto::api::common::v1::RetryPolicy;
use temper_proto::api::enums::v1::{RetryState, TimeoutType};
use temper_proto::api::failure::v1::Failure;
use temper_proto::api::failure::v1::failure::FailureInfo;

use super::config::RetryDefaults;
use super::Nanos;
use crate::time::{duration_from_nanos, duration_nanos};

/// Prefix of the non-retryable error type naming a timeout, e.g. "TemporalTimeout:StartToClose".
const TIMEOUT_TYPE_PREFIX: &str = "TemporalTimeout:";

/// Fills unset retry policy fields with the server defaults.
pub fn with_defaults(policy: Option<RetryPolicy>, defaults: &RetryDefaults) -> RetryPolicy {
    let mut policy = policy.unwrap_or_default();
    if policy.maximum_attempts == 0 {
        policy.maximum_attempts = defaults.maximum_attempts;
    }
    if duration_nanos(policy.initial_interval.as_ref()) == 0 {
        policy.initial_interval = Some(duration_from_nanos(defaults.initial_interval));
    }
    if duration_nanos(policy.maximum_interval.as_ref()) == 0 {
        let initial = duration_nanos(policy.initial_interval.as_ref()) as f64;
        policy.maximum_interval = Some(duration_from_nanos((initial * defaults.maximum_interval_coefficient) as i64));
    }
    if policy.backoff_coefficient == 0.0 {
        policy.backoff_coefficient = defaults.backoff_coefficient;
    }
    policy
}

/// Checks a retry policy after defaults were applied; the message says what to fix.
pub fn validate(policy: &RetryPolicy) -> Result<(), String> {
    if policy.maximum_attempts == 1 {
        // One attempt means no retries; the other fields do not matter.
        return Ok(());
    }
    if crate::time::is_negative(policy.initial_interval.as_ref()) {
        return Err("InitialInterval cannot be negative on retry policy.".into());
    }
    if policy.backoff_coefficient < 1.0 {
        return Err("BackoffCoefficient cannot be less than 1 on retry policy.".into());
    }
    if crate::time::is_negative(policy.maximum_interval.as_ref()) {
        return Err("MaximumInterval cannot be negative on retry policy.".into());
    }
    let maximum = duration_nanos(policy.maximum_interval.as_ref());
    if maximum > 0 && maximum < duration_nanos(policy.initial_interval.as_ref()) {
        return Err("MaximumInterval cannot be less than InitialInterval on retry policy.".into());
    }
    if policy.maximum_attempts < 0 {
        return Err("MaximumAttempts cannot be negative on retry policy.".into());
    }
    for error_type in &policy.non_retryable_error_types {
        if let Some(timeout) = error_type.strip_prefix(TIMEOUT_TYPE_PREFIX)
            && timeout_type_named(timeout).is_none()
        {
            return Err(format!("Invalid timeout type value: {timeout}."));
        }
    }
    Ok(())
}

fn timeout_type_named(name: &str) -> Option<TimeoutType> {
    [TimeoutType::StartToClose, TimeoutType::ScheduleToStart, TimeoutType::ScheduleToClose, TimeoutType::Heartbeat]
        .into_iter()
        .find(|t| timeout_name(*t) == name)
}

/// Temporal's name for a timeout type, as used in failure messages and
/// non-retryable error types.
pub fn timeout_name(timeout_type: TimeoutType) -> &'static str {
    match timeout_type {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    }
}

/// Whether a failure may be retried under a policy's non-retryable types.
pub fn is_retryable(failure: &Failure, non_retryable_types: &[String]) -> bool {
    match &failure.failure_info {
        Some(FailureInfo::TerminatedFailureInfo(_)) | Some(FailureInfo::CanceledFailureInfo(_)) => false,
        Some(FailureInfo::TimeoutFailureInfo(info)) => {
            let timeout_type = info.timeout_type();
            matches!(timeout_type, TimeoutType::StartToClose | TimeoutType::Heartbeat)
                && !non_retryable_types.iter().any(|t| *t == format!("{TIMEOUT_TYPE_PREFIX}{}", timeout_name(timeout_type)))
        }
        Some(FailureInfo::ServerFailureInfo(info)) => !info.non_retryable,
        Some(FailureInfo::ApplicationFailureInfo(info)) => {
            !info.non_retryable && !non_retryable_types.contains(&info.r#type)
        }
        _ => true,
    }
}

/// The decision for a failed attempt: retry after a delay, or stop and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RetryDecision {
    RetryAfter(Nanos),
    GiveUp(RetryState),
}

/// Backoff before the attempt after `attempt`, or why there is none.
/// `expiration` is the schedule-to-close deadline (0 when unbounded).
pub fn next_retry(
    policy: &RetryPolicy,
    attempt: i32,
    failure: &Failure,
    now: Nanos,
    expiration: Nanos,
) -> RetryDecision {
    if !is_retryable(failure, &policy.non_retryable_error_types) {
        return RetryDecision::GiveUp(RetryState::NonRetryableFailure);
    }
    if policy.maximum_attempts > 0 && attempt >= policy.maximum_attempts {
        return RetryDecision::GiveUp(RetryState::MaximumAttemptsReached);
    }
    let requested_delay = application_retry_delay(failure);
    let interval = match requested_delay {
        Some(delay) => delay,
        None => exponential_interval(policy, attempt),
    };
    // A delay the application asked for overrides the policy's maximum.
    let maximum = requested_delay.unwrap_or_else(|| duration_nanos(policy.maximum_interval.as_ref()));
    let interval = if maximum > 0 && (interval <= 0 || interval > maximum) { maximum } else { interval };
    if interval <= 0 {
        return RetryDecision::GiveUp(RetryState::Timeout);
    }
    if expiration > 0 && crate::time::deadline(now, interval) > expiration {
        return RetryDecision::GiveUp(RetryState::Timeout);
    }
    RetryDecision::RetryAfter(interval)
}

fn exponential_interval(policy: &RetryPolicy, attempt: i32) -> Nanos {
    let initial = duration_nanos(policy.initial_interval.as_ref()) as f64;
    let interval = initial * policy.backoff_coefficient.powi(attempt.max(1) - 1);
    if interval.is_finite() && interval < i64::MAX as f64 { interval as Nanos } else { i64::MAX }
}

fn application_retry_delay(failure: &Failure) -> Option<Nanos> {
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => info.next_retry_delay.as_ref().map(|d| duration_nanos(Some(d))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temper_proto::api::failure::v1::{ApplicationFailureInfo, TimeoutFailureInfo};

    const SECOND: Nanos = 1_000_000_000;

    fn policy(initial: Nanos, coefficient: f64, maximum: Nanos, attempts: i32) -> RetryPolicy {
        RetryPolicy {
            initial_interval: Some(duration_from_nanos(initial)),
            backoff_coefficient: coefficient,
            maximum_interval: Some(duration_from_nanos(maximum)),
            maximum_attempts: attempts,
            non_retryable_error_types: vec![],
        }
    }

    fn application_failure(error_type: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "boom".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
                r#type: error_type.into(),
                non_retryable,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn timeout_failure(timeout_type: TimeoutType) -> Failure {
        Failure {
            failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                timeout_type: timeout_type as i32,
                last_heartbeat_details: None,
            })),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_grows_by_the_coefficient_and_stops_at_the_maximum() {
        let p = policy(SECOND, 2.0, 5 * SECOND, 0);
        let failure = application_failure("E", false);
        let delays: Vec<_> = (1..=5).map(|attempt| next_retry(&p, attempt, &failure, 0, 0)).collect();
        assert_eq!(
            delays,
            vec![
                RetryDecision::RetryAfter(SECOND),
                RetryDecision::RetryAfter(2 * SECOND),
                RetryDecision::RetryAfter(4 * SECOND),
                RetryDecision::RetryAfter(5 * SECOND),
                RetryDecision::RetryAfter(5 * SECOND),
            ]
        );
    }

    #[test]
    fn maximum_attempts_counts_the_first_attempt() {
        let p = policy(SECOND, 2.0, 10 * SECOND, 3);
        let failure = application_failure("E", false);
        assert_eq!(next_retry(&p, 2, &failure, 0, 0), RetryDecision::RetryAfter(2 * SECOND));
        assert_eq!(next_retry(&p, 3, &failure, 0, 0), RetryDecision::GiveUp(RetryState::MaximumAttemptsReached));
    }

    #[test]
    fn non_retryable_failures_stop_retries() {
        let mut p = policy(SECOND, 2.0, 10 * SECOND, 0);
        assert_eq!(
            next_retry(&p, 1, &application_failure("E", true), 0, 0),
            RetryDecision::GiveUp(RetryState::NonRetryableFailure)
        );
        p.non_retryable_error_types = vec!["MyBizError".into()];
        assert_eq!(
            next_retry(&p, 1, &application_failure("MyBizError", false), 0, 0),
            RetryDecision::GiveUp(RetryState::NonRetryableFailure)
        );
        assert_eq!(next_retry(&p, 1, &application_failure("Other", false), 0, 0), RetryDecision::RetryAfter(SECOND));
    }

    #[test]
    fn only_start_to_close_and_heartbeat_timeouts_are_retried() {
        let p = policy(SECOND, 2.0, 10 * SECOND, 0);
        for (timeout, retried) in [
            (TimeoutType::StartToClose, true),
            (TimeoutType::Heartbeat, true),
            (TimeoutType::ScheduleToStart, false),
            (TimeoutType::ScheduleToClose, false),
        ] {
            let decision = next_retry(&p, 1, &timeout_failure(timeout), 0, 0);
            assert_eq!(matches!(decision, RetryDecision::RetryAfter(_)), retried, "{timeout:?}");
        }
        let mut excluded = p.clone();
        excluded.non_retryable_error_types = vec!["TemporalTimeout:StartToClose".into()];
        assert_eq!(
            next_retry(&excluded, 1, &timeout_failure(TimeoutType::StartToClose), 0, 0),
            RetryDecision::GiveUp(RetryState::NonRetryableFailure)
        );
    }

    #[test]
    fn no_retry_that_would_start_after_the_expiration() {
        let p = policy(4 * SECOND, 2.0, 10 * SECOND, 0);
        let failure = application_failure("E", false);
        assert_eq!(next_retry(&p, 1, &failure, 0, 3 * SECOND), RetryDecision::GiveUp(RetryState::Timeout));
        assert_eq!(next_retry(&p, 1, &failure, 0, 5 * SECOND), RetryDecision::RetryAfter(4 * SECOND));
    }

    #[test]
    fn an_application_requested_delay_overrides_policy_intervals() {
        let p = policy(SECOND, 2.0, 2 * SECOND, 0);
        let mut failure = application_failure("E", false);
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = failure.failure_info.as_mut() {
            info.next_retry_delay = Some(duration_from_nanos(7 * SECOND));
        }
        assert_eq!(next_retry(&p, 3, &failure, 0, 0), RetryDecision::RetryAfter(7 * SECOND));
    }

    #[test]
    fn defaults_fill_unset_fields_and_validation_explains_bad_policies() {
        let filled = with_defaults(None, &super::super::Config::default().activity_retry);
        assert_eq!(duration_nanos(filled.initial_interval.as_ref()), SECOND);
        assert_eq!(duration_nanos(filled.maximum_interval.as_ref()), 100 * SECOND);
        assert_eq!(filled.backoff_coefficient, 2.0);
        assert!(validate(&filled).is_ok());
        let bad = policy(10 * SECOND, 2.0, SECOND, 0);
        assert!(validate(&bad).unwrap_err().contains("MaximumInterval"));
        let bad = policy(SECOND, 0.5, 2 * SECOND, 0);
        assert!(validate(&bad).unwrap_err().contains("BackoffCoefficient"));
    }
}
