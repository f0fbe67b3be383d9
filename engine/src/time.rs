//! Conversions between protobuf time types and nanoseconds since the epoch,
//! the unit the engine computes in.

use prost_types::{Duration, Timestamp};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

pub fn timestamp_nanos(timestamp: &Timestamp) -> i64 {
    timestamp.seconds.saturating_mul(NANOS_PER_SECOND).saturating_add(timestamp.nanos as i64)
}

pub fn timestamp_from_nanos(nanos: i64) -> Timestamp {
    Timestamp { seconds: nanos.div_euclid(NANOS_PER_SECOND), nanos: nanos.rem_euclid(NANOS_PER_SECOND) as i32 }
}

/// A duration in nanoseconds; absent or negative durations count as zero.
pub fn duration_nanos(duration: Option<&Duration>) -> i64 {
    duration
        .map(|d| d.seconds.saturating_mul(NANOS_PER_SECOND).saturating_add(d.nanos as i64).max(0))
        .unwrap_or(0)
}

pub fn duration_from_nanos(nanos: i64) -> Duration {
    Duration { seconds: nanos / NANOS_PER_SECOND, nanos: (nanos % NANOS_PER_SECOND) as i32 }
}

/// `Some(duration)` for a positive length, `None` for zero: how Temporal
/// leaves unset timeouts out of messages.
pub fn optional_duration(nanos: i64) -> Option<Duration> {
    (nanos > 0).then(|| duration_from_nanos(nanos))
}

/// Always `Some`, zero included: how Temporal writes the timeouts it
/// normalized into events and tasks ("0s" meaning none), which some SDKs
/// (TypeScript) require to be present.
pub fn explicit_duration(nanos: i64) -> Option<Duration> {
    Some(duration_from_nanos(nanos.max(0)))
}

pub fn is_negative(duration: Option<&Duration>) -> bool {
    duration.is_some_and(|d| d.seconds < 0 || d.nanos < 0)
}

/// When something `duration` after `start` happens. Saturates rather than
/// overflows: a deadline past the year 2262 is one that never comes.
pub fn deadline(start: i64, duration: i64) -> i64 {
    start.saturating_add(duration)
}

/// Wall-clock now, for callers outside the pure state machine.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_including_before_the_epoch() {
        for nanos in [0, 1, 1_500_000_000, -1, -1_500_000_001, 1_700_000_000_123_456_789] {
            assert_eq!(timestamp_nanos(&timestamp_from_nanos(nanos)), nanos);
        }
    }

    #[test]
    fn absent_and_negative_durations_are_zero() {
        assert_eq!(duration_nanos(None), 0);
        assert_eq!(duration_nanos(Some(&Duration { seconds: -3, nanos: 0 })), 0);
        assert_eq!(duration_nanos(Some(&duration_from_nanos(2_500_000_000))), 2_500_000_000);
        assert_eq!(optional_duration(0), None);
    }
}
