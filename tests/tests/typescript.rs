//! One test per TypeScript SDK scenario (tests/typescript/scenarios/*.js),
//! each against a server of its own, through the official `@temporalio/*`
//! packages that the harness installs from tests/typescript/package-lock.json.

use temper_tests::run_typescript_scenario;

#[test]
fn hello_activity_with_default_timeouts() {
    run_typescript_scenario("hello_activity.js");
}

#[test]
fn activity_fails_twice_then_succeeds() {
    run_typescript_scenario("activity_retry.js");
}

#[test]
fn signal_and_query() {
    run_typescript_scenario("signal_query.js");
}

#[test]
fn workflow_sleep_timer() {
    run_typescript_scenario("timer.js");
}

#[test]
fn cancellation_with_a_cleanup_step() {
    run_typescript_scenario("cancellation.js");
}

#[test]
fn workflow_failure_reaches_the_client() {
    run_typescript_scenario("workflow_failure.js");
}

#[test]
fn activities_completed_from_outside_by_token_and_by_id() {
    run_typescript_scenario("async_completion.js");
}

#[test]
fn continue_as_new_chain() {
    run_typescript_scenario("continue_as_new.js");
}

#[test]
fn workflow_retry_cron_and_start_delay() {
    run_typescript_scenario("workflow_retry_cron_delay.js");
}

#[test]
fn child_workflows_and_external_signals() {
    run_typescript_scenario("child_workflows.js");
}

#[test]
fn updates_with_a_validator_and_with_start() {
    run_typescript_scenario("updates.js");
}

#[test]
fn eager_workflow_start_and_activity_dispatch() {
    run_typescript_scenario("eager.js");
}

#[test]
fn reset_to_the_first_workflow_task() {
    run_typescript_scenario("reset.js");
}

#[test]
fn list_and_count_workflows_with_the_filter_language() {
    run_typescript_scenario("visibility.js");
}

#[test]
fn namespaces_search_attributes_and_namespace_deletion() {
    run_typescript_scenario("namespaces.js");
}

#[test]
fn a_run_cached_by_a_worker_that_shut_down_moves_on_at_once() {
    run_typescript_scenario("sticky_shutdown.js");
}
