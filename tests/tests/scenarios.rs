//! One test per compatibility scenario (tests/python/scenarios/*.py), each
//! against a server of its own. See tests/src/lib.rs for which server runs.

use temper_tests::run_scenario;

#[test]
fn hello_activity() {
    run_scenario("hello_activity.py", &[]);
}

#[test]
fn activity_fails_twice_then_succeeds() {
    run_scenario("activity_retry.py", &[]);
}

#[test]
fn start_to_close_timeout_then_retry() {
    run_scenario("start_to_close_retry.py", &[]);
}

#[test]
fn heartbeat_timeout_details_reach_retry() {
    run_scenario("heartbeat_timeout_details.py", &[]);
}

#[test]
fn workflow_sleep_timer() {
    run_scenario("workflow_sleep.py", &[]);
}

#[test]
fn signal_and_query() {
    run_scenario("signal_query.py", &[]);
}

#[test]
fn cancel_reaches_heartbeating_activity() {
    run_scenario("cancel_activity.py", &[]);
}

#[test]
fn terminate_workflow() {
    run_scenario("terminate.py", &[]);
}

#[test]
fn non_retryable_application_error() {
    run_scenario("non_retryable_error.py", &[]);
}

#[test]
fn duplicate_workflow_id_rejected() {
    run_scenario("duplicate_workflow_id.py", &[]);
}

#[test]
fn history_event_ids() {
    run_scenario("history_ids.py", &[]);
}

#[test]
fn two_hundred_workflows_at_once() {
    run_scenario("many_workflows.py", &[]);
}

#[test]
fn bad_input_gets_clear_errors() {
    run_scenario("bad_input.py", &[]);
}

#[test]
fn everyday_sdk_features() {
    run_scenario("sdk_features.py", &[]);
}

#[test]
fn health_service_reports_serving() {
    run_scenario("health.py", &[]);
}

#[test]
fn activities_completed_from_outside_by_token_and_by_id() {
    run_scenario("async_completion.py", &[]);
}

#[test]
fn history_newest_first_in_pages() {
    run_scenario("history_reverse.py", &[]);
}

#[test]
fn continue_as_new_chain_of_ten_runs() {
    run_scenario("continue_as_new.py", &[]);
}

#[test]
fn failed_workflow_retried_by_its_retry_policy() {
    run_scenario("workflow_retry.py", &[]);
}

#[test]
fn cron_workflow_observed_over_two_runs() {
    run_scenario("cron.py", &[]);
}

#[test]
fn start_delay_holds_back_the_first_workflow_task() {
    run_scenario("start_delay.py", &[]);
}

#[test]
fn child_workflows_close_policies_and_external_signals() {
    run_scenario("child_workflows.py", &[]);
}

#[test]
fn workflow_updates_validators_stages_ids_and_with_start() {
    run_scenario("updates.py", &[]);
}

#[test]
fn eager_workflow_start_and_activity_dispatch() {
    run_scenario("eager.py", &[]);
}

#[test]
fn reset_to_the_first_workflow_task_with_a_signal_reapplied() {
    run_scenario("reset.py", &[]);
}

#[test]
fn queries_go_to_the_sticky_worker_then_to_the_normal_queue() {
    run_scenario("sticky_query.py", &[]);
}

#[test]
fn a_non_determinism_failure_is_retried_not_fatal() {
    run_scenario("nondeterminism.py", &[]);
}

#[test]
fn custom_search_attributes_are_registered_checked_and_removed() {
    run_scenario("search_attributes.py", &[]);
}

#[test]
fn namespaces_are_updated_and_deprecated() {
    run_scenario("namespace_update.py", &[]);
}

#[test]
fn an_update_sent_while_its_workflow_continues_as_new_reaches_the_new_run() {
    run_scenario("update_continue_as_new.py", &[]);
}

#[test]
fn a_run_cached_by_a_worker_that_shut_down_moves_on_at_once() {
    run_scenario("sticky_shutdown.py", &[]);
}

#[test]
fn a_deleted_namespace_frees_its_name_and_its_runs_are_reclaimed() {
    run_scenario("namespace_delete.py", &[]);
}

#[test]
fn workflows_are_listed_and_counted_with_the_filter_language() {
    run_scenario("visibility.py", &[]);
}

#[test]
fn schedule_api() {
    run_scenario("schedules.py", &[]);
}
