//! Robustness (issue 6): each test runs a scenario that does on purpose what
//! used to stop a shard (or strand a workflow), checks inside the scenario
//! that an ordinary workflow still completes on every shard, then kills the
//! server, restarts it on the same data directory and checks that again: a
//! bad request must not come back on restart as a crash loop.

use temper_tests::survives_and_restarts;

#[test]
fn workflow_task_commands_with_over_long_ids() {
    survives_and_restarts("bad-commands", "bad_workflow_task_commands.py");
}

#[test]
fn reset_sticky_while_a_task_waits_on_the_sticky_queue() {
    survives_and_restarts("reset-sticky", "reset_sticky_waiting_task.py");
}

#[test]
fn thousand_year_durations() {
    survives_and_restarts("long-durations", "long_durations.py");
}

#[test]
fn close_after_cancelling_an_unstarted_activity() {
    survives_and_restarts("close-after-cancel", "close_after_cancelled_activity.py");
}

#[test]
fn edge_validation() {
    survives_and_restarts("edge-validation", "edge_validation.py");
}
