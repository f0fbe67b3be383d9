//! How long run summaries take from their commit to the index, logged every
//! [`REPORT_INTERVAL`] as a median, a 99th percentile and a maximum, and
//! observed in the `temper_projection_lag_seconds` histogram. Measured
//! on the summaries that carry their commit's time: a run's first one (its
//! start time) and the one of its close (its close time). Records replayed
//! after a restart count too: their lag is real.

use std::sync::LazyLock;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::Histogram;
use temper_engine::metrics::{histogram, latency_buckets, seconds};
use temper_engine::time::timestamp_nanos;
use temper_proto::records::VisibilityRecord;
use tokio::time::Instant;

const REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept between two reports, at most; beyond, later ones are left out.
const MAX_SAMPLES: usize = 100_000;

static LAG: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "temper_projection_lag_seconds",
        "Seconds from a run summary's commit (a start or a close) to its application to the visibility index.",
        latency_buckets(),
    )
});

pub struct ProjectionLag {
    window: Mutex<Window>,
}

struct Window {
    samples: Vec<i64>,
    began: Instant,
}

impl Default for ProjectionLag {
    fn default() -> Self {
        ProjectionLag { window: Mutex::new(Window { samples: Vec::new(), began: Instant::now() }) }
    }
}

impl ProjectionLag {
    /// Notes the lag of what was just applied, and reports the window once it is long enough.
    pub fn applied(&self, summaries: &[VisibilityRecord], now_nanos: i64) {
        let lags: Vec<i64> = summaries.iter().filter_map(committed_at).map(|at| now_nanos.saturating_sub(at).max(0)).collect();
        for lag in &lags {
            LAG.observe(seconds(*lag));
        }
        let report = {
            let mut window = self.window.lock();
            let room = MAX_SAMPLES.saturating_sub(window.samples.len());
            window.samples.extend(lags.into_iter().take(room));
            if window.began.elapsed() < REPORT_INTERVAL || window.samples.is_empty() {
                return;
            }
            window.began = Instant::now();
            std::mem::take(&mut window.samples)
        };
        let (p50, p99, max) = percentiles(report.clone());
        tracing::info!(
            summaries = report.len(),
            p50_ms = p50 as f64 / 1e6,
            p99_ms = p99 as f64 / 1e6,
            max_ms = max as f64 / 1e6,
            "visibility lag, commit to index"
        );
    }
}

/// When the summary's change was committed, if it says.
fn committed_at(summary: &VisibilityRecord) -> Option<i64> {
    if summary.deleted {
        return None;
    }
    match (&summary.close_time, &summary.start_time) {
        (Some(close), _) => Some(timestamp_nanos(close)),
        (None, Some(start)) if summary.version <= 1 => Some(timestamp_nanos(start)),
        _ => None,
    }
}

/// Median, 99th percentile and maximum of a non-empty sample.
fn percentiles(mut samples: Vec<i64>) -> (i64, i64, i64) {
    samples.sort_unstable();
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

#[cfg(test)]
mod tests {
    use temper_engine::time::timestamp_from_nanos;

    use super::*;

    #[test]
    fn percentiles_of_a_sample() {
        assert_eq!(percentiles((1..=100).rev().collect()), (51, 99, 100));
        assert_eq!(percentiles(vec![7]), (7, 7, 7));
    }

    #[test]
    fn starts_and_closes_say_when_they_were_committed_other_summaries_do_not() {
        let started = VisibilityRecord { start_time: Some(timestamp_from_nanos(10)), version: 1, ..Default::default() };
        assert_eq!(committed_at(&started), Some(10));
        let upserted = VisibilityRecord { version: 5, ..started.clone() };
        assert_eq!(committed_at(&upserted), None);
        let closed = VisibilityRecord { close_time: Some(timestamp_from_nanos(20)), ..upserted.clone() };
        assert_eq!(committed_at(&closed), Some(20));
        assert_eq!(committed_at(&VisibilityRecord { deleted: true, ..closed }), None);
    }
}
