//! The shard's timers that fire soon, kept in memory. The store holds all of
//! them; this view covers those before `horizon` and is refilled as time
//! passes, so a shard with millions of distant timers stays small in memory.

use std::collections::BTreeMap;

use temper_proto::records::TimerTask;

use crate::store::TimerKey;

/// How far ahead timers are loaded.
pub(super) const LOOKAHEAD_NANOS: i64 = 60_000_000_000;
/// How many timers one refill loads at most.
pub(super) const LOAD_LIMIT: usize = 10_000;

pub(super) struct TimerQueue {
    timers: BTreeMap<TimerKey, TimerTask>,
    /// Every stored timer firing before this is in `timers`.
    horizon: i64,
}

impl Default for TimerQueue {
    fn default() -> Self {
        TimerQueue { timers: BTreeMap::new(), horizon: i64::MIN }
    }
}

impl TimerQueue {
    pub fn horizon(&self) -> i64 {
        self.horizon
    }

    /// Takes in a refill covering timers before `loaded_until`. When the load
    /// hit its limit, the horizon stops at the last timer loaded.
    pub fn refill(&mut self, loaded: Vec<(TimerKey, TimerTask)>, loaded_until: i64, hit_limit: bool) {
        let horizon = if hit_limit { loaded.last().map(|(k, _)| k.fire_time_nanos).unwrap_or(loaded_until) } else { loaded_until };
        for (key, task) in loaded {
            if key.fire_time_nanos < horizon {
                self.timers.insert(key, task);
            }
        }
        self.horizon = self.horizon.max(horizon);
    }

    /// A timer just armed; kept only if it falls within the horizon (later
    /// ones arrive with a refill).
    pub fn add(&mut self, key: TimerKey, task: TimerTask) {
        if key.fire_time_nanos < self.horizon {
            self.timers.insert(key, task);
        }
    }

    pub fn remove(&mut self, key: &TimerKey) {
        self.timers.remove(key);
    }

    pub fn next_fire_time(&self) -> Option<i64> {
        self.timers.keys().next().map(|k| k.fire_time_nanos)
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: i64, limit: usize) -> Vec<(TimerKey, TimerTask)> {
        let mut due = Vec::new();
        while due.len() < limit {
            match self.timers.first_key_value() {
                Some((key, _)) if key.fire_time_nanos <= now => {
                    let (key, task) = self.timers.pop_first().expect("just seen");
                    due.push((key, task));
                }
                _ => break,
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(at: i64, id: &str) -> TimerKey {
        TimerKey { fire_time_nanos: at, id: id.into() }
    }

    #[test]
    fn timers_beyond_the_horizon_wait_for_a_refill() {
        let mut queue = TimerQueue::default();
        queue.refill(vec![(key(5, "a"), TimerTask::default())], 100, false);
        queue.add(key(50, "b"), TimerTask::default());
        queue.add(key(500, "c"), TimerTask::default());
        assert_eq!(queue.take_due(60, 10).len(), 2);
        assert_eq!(queue.next_fire_time(), None, "c is beyond the horizon");
        queue.refill(vec![(key(500, "c"), TimerTask::default())], 1000, false);
        assert_eq!(queue.next_fire_time(), Some(500));
    }

    #[test]
    fn a_truncated_refill_only_covers_what_it_loaded() {
        let mut queue = TimerQueue::default();
        queue.refill(vec![(key(5, "a"), TimerTask::default()), (key(9, "b"), TimerTask::default())], 100, true);
        assert_eq!(queue.horizon(), 9);
        assert_eq!(queue.take_due(100, 10).len(), 1, "b is at the horizon and comes with the next refill");
    }
}
