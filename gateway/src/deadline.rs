//! The client's deadline, from the `grpc-timeout` header, for long polls that
//! must answer (empty) before the client gives up.

use std::time::Duration;

use tokio::time::Instant;

/// How long a long poll may wait: up to `cap`, ending a little before the
/// client's deadline so the empty answer still reaches it.
pub fn long_poll_deadline(metadata: &tonic::metadata::MetadataMap, cap: Duration) -> Instant {
    const MARGIN: Duration = Duration::from_millis(500);
    let client_budget = metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map(|timeout| timeout.saturating_sub(MARGIN));
    let wait = client_budget.map_or(cap, |budget| budget.min(cap));
    Instant::now() + wait
}

/// `grpc-timeout` is an integer followed by a unit: H, M, S, m, u or n.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("70S"), Some(Duration::from_secs(70)));
        assert_eq!(parse_grpc_timeout("69999m"), Some(Duration::from_millis(69_999)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn absurd_grpc_timeouts_saturate() {
        assert_eq!(parse_grpc_timeout("18446744073709551615H"), Some(Duration::from_secs(u64::MAX)));
    }
}
