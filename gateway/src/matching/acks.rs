//! Which `tasks` log records matching is done with. A partition's ack level
//! is the lowest offset still outstanding; after a restart matching reads
//! again from there, and tasks it had already handed out are refused by the
//! engine as started, so nothing is lost and nothing runs twice.

use std::collections::BTreeSet;

#[derive(Default)]
pub struct AckTracker {
    outstanding: BTreeSet<u64>,
    /// The offset after the last record read.
    read_up_to: u64,
}

impl AckTracker {
    pub fn starting_at(offset: u64) -> Self {
        AckTracker { outstanding: BTreeSet::new(), read_up_to: offset }
    }

    pub fn read(&mut self, offset: u64) {
        self.outstanding.insert(offset);
        self.read_up_to = self.read_up_to.max(offset + 1);
    }

    /// Records before `offset` were never read here and never will be (a
    /// previous owner finished and trimmed them): they count as done.
    pub fn skip_to(&mut self, offset: u64) {
        self.read_up_to = self.read_up_to.max(offset);
    }

    pub fn done(&mut self, offset: u64) {
        self.outstanding.remove(&offset);
    }

    /// Records read and not done with.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    pub fn ack_level(&self) -> u64 {
        self.outstanding.first().copied().unwrap_or(self.read_up_to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_level_waits_for_the_oldest_outstanding_task() {
        let mut acks = AckTracker::starting_at(10);
        assert_eq!(acks.ack_level(), 10);
        for offset in 10..14 {
            acks.read(offset);
        }
        acks.done(11);
        acks.done(12);
        assert_eq!(acks.ack_level(), 10);
        assert_eq!(acks.outstanding(), 2);
        acks.done(10);
        assert_eq!(acks.ack_level(), 13);
        acks.done(13);
        assert_eq!(acks.ack_level(), 14);
    }

    #[test]
    fn records_skipped_count_as_done_but_outstanding_ones_still_hold_the_level() {
        let mut acks = AckTracker::starting_at(5);
        acks.skip_to(9);
        assert_eq!(acks.ack_level(), 9);
        acks.read(9);
        acks.skip_to(20);
        assert_eq!(acks.ack_level(), 9, "task 9 is still outstanding");
        acks.done(9);
        assert_eq!(acks.ack_level(), 20);
        acks.skip_to(15);
        assert_eq!(acks.ack_level(), 20, "never backwards");
    }
}
