//! What a run measured, and how it is printed.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::scenarios::Scenario;

#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    started: u64,
    completed: u64,
    events: u64,
    latencies_micros: Vec<u64>,
    fetch_micros: Vec<u64>,
    /// From a start's answer to the first list showing the workflow.
    listed_micros: Vec<u64>,
    /// Workflows the first list after their start already showed.
    listed_at_once: u64,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    pub fn started(&self) {
        self.inner.lock().started += 1;
    }

    pub fn completed(&self, latency: Duration, events: u64) {
        let mut inner = self.inner.lock();
        inner.completed += 1;
        inner.events += events;
        inner.latencies_micros.push(latency.as_micros() as u64);
    }

    pub fn history_fetched(&self, took: Duration) {
        self.inner.lock().fetch_micros.push(took.as_micros() as u64);
    }

    pub fn listed(&self, took: Duration, at_once: bool) {
        let mut inner = self.inner.lock();
        inner.listed_micros.push(took.as_micros() as u64);
        inner.listed_at_once += u64::from(at_once);
    }

    pub fn error(&self, kind: impl Into<String>) {
        *self.inner.lock().errors.entry(kind.into()).or_default() += 1;
    }

    pub fn progress(&self) -> (u64, u64, u64) {
        let inner = self.inner.lock();
        (inner.started, inner.completed, inner.errors.values().sum())
    }

    pub fn report(&self, scenario: Scenario, address: &str, concurrency: usize, elapsed: Duration) -> Report {
        let mut inner = self.inner.lock();
        inner.latencies_micros.sort_unstable();
        inner.fetch_micros.sort_unstable();
        inner.listed_micros.sort_unstable();
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Report {
            scenario,
            address: address.to_string(),
            concurrency,
            elapsed_seconds: seconds,
            started: inner.started,
            completed: inner.completed,
            workflows_per_second: inner.completed as f64 / seconds,
            history_events_per_second: inner.events as f64 / seconds,
            latency_ms: Percentiles::of(&inner.latencies_micros),
            history_fetch_ms: (!inner.fetch_micros.is_empty()).then(|| Percentiles::of(&inner.fetch_micros)),
            listed_ms: (!inner.listed_micros.is_empty()).then(|| Percentiles::of(&inner.listed_micros)),
            listed_at_once: (!inner.listed_micros.is_empty()).then_some(inner.listed_at_once),
            errors: inner.errors.clone(),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(sorted_micros: &[u64]) -> Percentiles {
        let at = |quantile: f64| -> f64 {
            if sorted_micros.is_empty() {
                return 0.0;
            }
            let index = ((sorted_micros.len() as f64 * quantile).ceil() as usize).clamp(1, sorted_micros.len()) - 1;
            sorted_micros[index] as f64 / 1000.0
        };
        Percentiles { p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub address: String,
    pub concurrency: usize,
    pub elapsed_seconds: f64,
    pub started: u64,
    pub completed: u64,
    pub workflows_per_second: f64,
    pub history_events_per_second: f64,
    /// Start-to-completion latency (for start-only: of the start call; for
    /// ready: the time until the server answered).
    pub latency_ms: Percentiles,
    /// Time to fetch a full history (long-history only).
    pub history_fetch_ms: Option<Percentiles>,
    /// From a start's answer to the first list showing the workflow (listed only).
    pub listed_ms: Option<Percentiles>,
    /// How many workflows the first list after their start showed (listed only).
    pub listed_at_once: Option<u64>,
    pub errors: BTreeMap<String, u64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "scenario {} against {} (concurrency {})", self.scenario, self.address, self.concurrency)?;
        writeln!(f, "  completed         {} of {} in {:.2}s", self.completed, self.started, self.elapsed_seconds)?;
        writeln!(f, "  workflows/s       {:.1}", self.workflows_per_second)?;
        writeln!(f, "  history events/s  {:.1}", self.history_events_per_second)?;
        let l = &self.latency_ms;
        writeln!(f, "  latency ms        p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}", l.p50, l.p95, l.p99, l.max)?;
        if let Some(h) = &self.history_fetch_ms {
            writeln!(f, "  history fetch ms  p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}", h.p50, h.p95, h.p99, h.max)?;
        }
        if let (Some(l), Some(at_once)) = (&self.listed_ms, self.listed_at_once) {
            writeln!(f, "  listed after ms   p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}", l.p50, l.p95, l.p99, l.max)?;
            writeln!(f, "  listed at once    {at_once} of {}", self.started)?;
        }
        if self.errors.is_empty() {
            writeln!(f, "  errors            none")?;
        } else {
            for (kind, count) in &self.errors {
                writeln!(f, "  error             {count} × {kind}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_nearest_ranks() {
        let values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let p = Percentiles::of(&values);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).max, 0.0);
    }
}
