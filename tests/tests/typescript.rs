//! One test per TypeScript SDK scenario (tests/typescript/scenarios/*.js),
//! each against a server of its own, through the official `@temporalio/*`
//! packages that the harness installs from tests/typescript/package-lock.json.

use temper_tests::run_typescript_scenario;

#[test]
fn hello_activity_with_default_timeouts() {
    run_typescript_scenario("hello_activity.js");
}
