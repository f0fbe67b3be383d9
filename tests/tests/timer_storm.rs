//! Robustness (issue 6): 20,000 timers due at the same instant fire, and a
//! canary on the same shard keeps finishing within 1 s meanwhile. In a test
//! binary of its own so that no other test competes with it for the CPU.

use temper_tests::survives_and_restarts;

#[test]
fn twenty_thousand_timers_due_at_once() {
    survives_and_restarts("timer-storm", "timer_storm.py");
}
