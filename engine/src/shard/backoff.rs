//! Pauses between retries of a store that keeps failing: short at first, so
//! a blip costs little, then longer, so a store that is down for a while is
//! not hammered (nor the log flooded) by every shard at once.

use std::time::Duration;

const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

pub(super) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_PAUSE }
    }
}

impl Backoff {
    /// The pause before the next retry; each failure doubles the one after.
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(LONGEST_PAUSE);
        pause
    }

    /// Starts over after a success; tells whether there had been failures.
    pub fn reset(&mut self) -> bool {
        std::mem::replace(&mut self.next, FIRST_PAUSE) != FIRST_PAUSE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_ceiling_and_start_over_after_a_success() {
        let mut backoff = Backoff::default();
        let pauses: Vec<Duration> = (0..8).map(|_| backoff.pause()).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert!(pauses.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(*pauses.last().unwrap(), LONGEST_PAUSE);
        assert!(backoff.reset(), "there had been failures");
        assert_eq!(backoff.pause(), FIRST_PAUSE);
        backoff.reset();
        assert!(!backoff.reset(), "no failure since");
    }
}
