//! The shard's timers that fire soon, kept in memory. The store holds all of
//! them; this view covers those ordered before `horizon` and is refilled as
//! time passes, so a shard with millions of distant timers stays small in
//! memory. The horizon is a whole timer key, not just a time: any number of
//! timers may share one fire time, and a refill that stops at its limit in
//! the middle of them must resume exactly where it stopped.

use std::collections::BTreeMap;

use temper_proto::records::TimerTask;

use crate::store::TimerKey;

/// How far ahead timers are loaded.
pub(super) const LOOKAHEAD_NANOS: i64 = 60_000_000_000;
/// How many timers one refill loads at most.
pub(super) const LOAD_LIMIT: usize = 10_000;

pub(super) struct TimerQueue {
    timers: BTreeMap<TimerKey, TimerTask>,
    /// Every stored timer whose key orders before this is in `timers`.
    horizon: TimerKey,
}

impl Default for TimerQueue {
    fn default() -> Self {
        TimerQueue { timers: BTreeMap::new(), horizon: TimerKey::earliest_at(i64::MIN) }
    }
}

impl TimerQueue {
    /// Where the next refill starts reading (inclusive).
    pub fn horizon(&self) -> &TimerKey {
        &self.horizon
    }

    /// The time until which every timer is known to be in memory.
    pub fn horizon_nanos(&self) -> i64 {
        self.horizon.fire_time_nanos
    }

    /// Takes in a refill read from the horizon up to `loaded_until`. When the
    /// load hit its limit, the horizon moves to the last key loaded, which is
    /// kept out of memory and read again first by the next refill: a load
    /// always makes progress, even through timers sharing one fire time.
    pub fn refill(&mut self, loaded: Vec<(TimerKey, TimerTask)>, loaded_until: i64, hit_limit: bool) {
        let horizon = match loaded.last() {
            Some((last, _)) if hit_limit && loaded.len() > 1 => last.clone(),
            // A limit of one: keep the timer and move just past it.
            Some((last, _)) if hit_limit => last.successor(),
            _ => TimerKey::earliest_at(loaded_until),
        };
        for (key, task) in loaded {
            if key < horizon {
                self.timers.insert(key, task);
            }
        }
        if horizon > self.horizon {
            self.horizon = horizon;
        }
    }

    /// A timer just armed; kept only if it falls before the horizon (later
    /// ones arrive with a refill).
    pub fn add(&mut self, key: TimerKey, task: TimerTask) {
        if key < self.horizon {
            self.timers.insert(key, task);
        }
    }

    pub fn remove(&mut self, key: &TimerKey) {
        self.timers.remove(key);
    }

    /// How many timers are in memory.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    pub fn next_fire_time(&self) -> Option<i64> {
        self.timers.keys().next().map(|k| k.fire_time_nanos)
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: i64, limit: usize) -> Vec<(TimerKey, TimerTask)> {
        let mut due = Vec::new();
        while due.len() < limit {
            match self.timers.first_entry() {
                Some(entry) if entry.key().fire_time_nanos <= now => due.push(entry.remove_entry()),
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

    fn loaded(keys: &[TimerKey]) -> Vec<(TimerKey, TimerTask)> {
        keys.iter().map(|k| (k.clone(), TimerTask::default())).collect()
    }

    #[test]
    fn timers_beyond_the_horizon_wait_for_a_refill() {
        let mut queue = TimerQueue::default();
        queue.refill(loaded(&[key(5, "a")]), 100, false);
        queue.add(key(50, "b"), TimerTask::default());
        queue.add(key(500, "c"), TimerTask::default());
        assert_eq!(queue.take_due(60, 10).len(), 2);
        assert_eq!(queue.next_fire_time(), None, "c is beyond the horizon");
        queue.refill(loaded(&[key(500, "c")]), 1000, false);
        assert_eq!(queue.next_fire_time(), Some(500));
    }

    #[test]
    fn a_truncated_refill_resumes_at_the_last_key_it_loaded() {
        let mut queue = TimerQueue::default();
        queue.refill(loaded(&[key(5, "a"), key(9, "b")]), 100, true);
        assert_eq!(queue.horizon(), &key(9, "b"));
        assert_eq!(queue.take_due(100, 10).len(), 1, "b is at the horizon and comes with the next refill");
    }

    #[test]
    fn refills_make_progress_through_timers_sharing_one_fire_time() {
        let all: Vec<TimerKey> = (0..25).map(|i| key(7, &format!("t{i:02}"))).collect();
        let mut queue = TimerQueue::default();
        let mut fired = Vec::new();
        for _ in 0..30 {
            let from = queue.horizon().clone();
            let window: Vec<TimerKey> = all.iter().filter(|k| **k >= from).take(10).cloned().collect();
            let hit_limit = window.len() == 10;
            queue.refill(loaded(&window), 100, hit_limit);
            fired.extend(queue.take_due(7, 1000).into_iter().map(|(k, _)| k));
        }
        assert_eq!(fired, all, "every timer fires once, in order, though all share one fire time");
    }

    #[test]
    fn a_refill_limited_to_one_timer_still_moves_on() {
        let mut queue = TimerQueue::default();
        queue.refill(loaded(&[key(7, "a")]), 100, true);
        assert_eq!(queue.take_due(7, 10).len(), 1);
        assert!(queue.horizon() > &key(7, "a"));
    }
}
