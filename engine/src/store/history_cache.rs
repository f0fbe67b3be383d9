//! Recent histories in memory, for the embedded store.
//!
//! Written through by shard commits (after their epoch check passed), never
//! filled from reads: an entry always holds a run's history from its first
//! event to its last committed one, so a read it can answer is answered
//! exactly as the database would. Runs started before the process, or pushed
//! out by newer ones, are read from the database. Bounded by bytes.

use std::sync::Arc;

use moka::sync::Cache;

use super::{RawEvent, RunKey};

/// Bytes of encoded events kept in memory.
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct HistoryCache {
    runs: Cache<RunKey, Arc<Vec<RawEvent>>>,
}

impl Default for HistoryCache {
    fn default() -> Self {
        let runs = Cache::builder()
            .max_capacity(CAPACITY_BYTES)
            .weigher(|_: &RunKey, events: &Arc<Vec<RawEvent>>| {
                events.iter().map(|event| event.encoded.len() as u32 + 16).sum::<u32>().max(1)
            })
            .build();
        HistoryCache { runs }
    }
}

impl HistoryCache {
    /// Takes in committed events of a run: the start of a history, or the
    /// continuation of a cached one. Anything else drops the run, so a gap
    /// can never be served.
    pub fn committed(&self, run: &RunKey, events: Vec<RawEvent>) {
        let Some(first) = events.first().map(|event| event.event_id) else { return };
        let extended = if first == 1 {
            Some(events)
        } else {
            self.runs.get(run).filter(|cached| cached.last().is_some_and(|last| last.event_id + 1 == first)).map(|cached| {
                let mut extended = Vec::with_capacity(cached.len() + events.len());
                extended.extend(cached.iter().cloned());
                extended.extend(events);
                extended
            })
        };
        match extended {
            Some(history) => self.runs.insert(run.clone(), Arc::new(history)),
            None => self.runs.invalidate(run),
        }
    }

    /// Drops a deleted run.
    pub fn forget(&self, run: &RunKey) {
        self.runs.invalidate(run);
    }

    /// Events from `first_event_id` on, at most `max_events`, if the run is
    /// cached and the read starts within what was cached: past its end, only
    /// the store knows whether another writer added more.
    pub fn read(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> Option<Vec<RawEvent>> {
        let events = self.cached_events(run, first_event_id, max_events);
        crate::metrics::shards::cache_lookup(crate::metrics::shards::Cache::History, events.is_some());
        events
    }

    fn cached_events(&self, run: &RunKey, first_event_id: i64, max_events: usize) -> Option<Vec<RawEvent>> {
        let cached = self.runs.get(run)?;
        let start = usize::try_from(first_event_id.max(1) - 1).ok()?;
        if start >= cached.len() {
            return None;
        }
        Some(cached[start..].iter().take(max_events).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunKey {
        RunKey { namespace_id: "ns".into(), workflow_id: "wf".into(), run_id: "run".into() }
    }

    fn events(ids: std::ops::RangeInclusive<i64>) -> Vec<RawEvent> {
        ids.map(|event_id| RawEvent { event_id, encoded: bytes::Bytes::from(vec![event_id as u8]) }).collect()
    }

    fn ids(events: Option<Vec<RawEvent>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().map(|event| event.event_id).collect())
    }

    #[test]
    fn a_history_started_and_extended_in_order_is_served_from_memory() {
        let cache = HistoryCache::default();
        cache.committed(&run(), events(1..=3));
        cache.committed(&run(), events(4..=5));
        assert_eq!(ids(cache.read(&run(), 1, 100)), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(ids(cache.read(&run(), 4, 1)), Some(vec![4]));
        assert_eq!(ids(cache.read(&run(), 9, 10)), None, "past the cached end the store answers");
    }

    #[test]
    fn a_gap_or_an_unknown_start_is_never_served() {
        let cache = HistoryCache::default();
        cache.committed(&run(), events(5..=6));
        assert_eq!(ids(cache.read(&run(), 1, 100)), None, "the run's start was never seen");
        cache.committed(&run(), events(1..=3));
        cache.committed(&run(), events(5..=6));
        assert_eq!(ids(cache.read(&run(), 1, 100)), None, "event 4 is missing: the run is dropped");
    }
}
