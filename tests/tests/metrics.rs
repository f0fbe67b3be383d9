//! Prometheus metrics: after the official Python SDK ran workflows that end
//! every way a run can end, `/metrics` counts each of them by namespace and
//! type (`metrics.py` checks the values), and Prometheus' own checker,
//! `promtool check metrics`, accepts the exposition without a complaint.
//!
//! Temper-only: the names are Temper's (Temporal's server names its
//! metrics otherwise).

use std::process::{Command, Stdio};

use temper_tests::{ServerKind, TestDir, TestServer, crate_dir, run_python};

#[test]
fn metrics_count_what_the_sdk_did_and_promtool_accepts_them() {
    if matches!(ServerKind::detect(), ServerKind::Temporal) {
        eprintln!("skipped: the metric names are Temper's");
        return;
    }
    let dir = TestDir::new("metrics");
    let server = TestServer::start();
    let scrape = dir.path().join("metrics.txt");
    run_python(
        "metrics.py",
        &["--address", &server.address(), "--metrics-url", &server.metrics_url(), "--save-to", scrape.to_str().expect("a UTF-8 path")],
    );
    let promtool = promtool();
    let exposition = std::fs::File::open(&scrape).expect("the saved scrape");
    let checked = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(exposition)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running promtool");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics refused the exposition ({}):\n{}{}",
        checked.status,
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The path of a `promtool` binary, installed by `tests/services/promtool.sh` if needed.
fn promtool() -> String {
    let output = Command::new("bash").arg(crate_dir().join("services/promtool.sh")).output().expect("running promtool.sh");
    assert!(output.status.success(), "promtool.sh failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
