//! Property test of the pure state machine: random sequences of commands,
//! workflow-task commands and timer firings, with random field values, must
//! never panic and must leave every run's history valid.
//!
//! The default case count keeps `cargo test --workspace` quick; set
//! `PROPTEST_CASES` for a longer search.

mod generators;
mod history_checks;
mod simulation;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use simulation::Simulation;

const DEFAULT_CASES: u32 = 256;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_workflow_lives_keep_histories_valid((workflow_id, clock_start, steps) in generators::scenario()) {
        let mut simulation = Simulation::new(workflow_id, clock_start);
        for (index, step) in steps.iter().enumerate() {
            simulation
                .apply(step)
                .map_err(|violation| TestCaseError::fail(format!("step {index} ({}): {violation}", step_name(step))))?;
        }
    }
}

/// The step's kind, for failure messages (a step's fields may hold 70,000-character ids).
fn step_name(step: &generators::Step) -> String {
    let debug = format!("{step:?}");
    debug.split([' ', '(', '{']).next().unwrap_or_default().to_string()
}
