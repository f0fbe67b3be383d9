//! Smoke tests of `temper bench`: a small run completes and verifies every
//! workflow, and failures are counted as errors, never as completions.

use std::process::Command;

use serde_json::Value;
use temper_tests::TestServer;

fn bench(address: &str, extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_temper-under-test"))
        .args(["bench", "--address", address, "--json", "--concurrency", "5", "--pollers", "2"])
        .args(extra)
        .output()
        .expect("running temper bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "temper bench failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("temper bench --json printed no report ({e}): {stdout}\n{stderr}"))
}

#[test]
fn a_small_hello_activity_run_completes_every_workflow() {
    let server = TestServer::start();
    let report = bench(&server.address(), &["--scenario", "hello-activity", "--workflows", "20"]);
    assert_eq!(report["started"], 20, "{report}");
    assert_eq!(report["completed"], 20, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert!(report["workflows_per_second"].as_f64().unwrap() > 0.0, "{report}");
    // One activity: started, task scheduled/started/completed twice, activity
    // scheduled/started/completed, completed: 11 events a workflow.
    let events_per_workflow = report["history_events_per_second"].as_f64().unwrap() / report["workflows_per_second"].as_f64().unwrap();
    assert!((events_per_workflow - 11.0).abs() < 1e-6, "{report}");
    let latency = &report["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() <= latency["max"].as_f64().unwrap(), "{report}");
}

#[test]
fn failed_starts_count_as_errors_not_completions() {
    let server = TestServer::start();
    let report = bench(&server.address(), &["--scenario", "hello-activity", "--workflows", "4", "--namespace", "no-such-namespace"]);
    assert_eq!(report["completed"], 0, "{report}");
    assert_eq!(report["errors"]["start: NotFound"], 4, "{report}");
}

/// Each workflow is listed right after its start; on Temper, with its
/// read-your-writes lists, the first list after the start always shows it.
#[test]
fn a_small_listed_run_lists_every_workflow_after_its_start() {
    let server = TestServer::start();
    let report = bench(&server.address(), &["--scenario", "listed", "--workflows", "20"]);
    assert_eq!((&report["started"], &report["completed"]), (&Value::from(20), &Value::from(20)), "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert!(report["listed_ms"]["max"].as_f64().unwrap() > 0.0, "{report}");
    if !matches!(temper_tests::ServerKind::detect(), temper_tests::ServerKind::Temporal) {
        assert_eq!(report["listed_at_once"], 20, "read-your-writes: {report}");
    }
}
