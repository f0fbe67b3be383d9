//! Issue 6 (robustness): hostile or buggy input is refused at the edge, no
//! request can wedge a shard, and retried requests apply once. Each test
//! runs a scenario (tests/python/scenarios) against a server of its own; see
//! tests/src/lib.rs for which server runs.

use temper_tests::run_scenario;

#[test]
fn edge_validation() {
    run_scenario("edge_validation.py", &[]);
}
