//! Starting the real services (tests/services/*.sh) that adapter tests run
//! against, shared by those tests.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Starts the service of `script` once per test process, every check
/// waiting for it. Returns false, after saying so loudly, when there is no
/// `java` to run it: the only allowed reason to skip.
pub async fn started(script: &'static str, needed_for: &str) -> bool {
    if !java_is_installed() {
        eprintln!("\n!!!!! SKIPPED: no `java` on PATH, so no {script} service for {needed_for} !!!!!\n");
        return false;
    }
    tokio::task::spawn_blocking(move || start_once(script)).await.expect("starting a service");
    true
}

fn java_is_installed() -> bool {
    Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The lock is held while the script runs, so concurrent checks wait for
/// the first start instead of starting the service again.
fn start_once(script: &'static str) {
    static STARTED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut started = STARTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !started.contains(&script) {
        start(script);
        started.push(script);
    }
}

/// `start` returns once the service answers (at once if it already runs).
fn start(script: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/services").join(script);
    let status = Command::new("bash")
        .arg(path)
        .arg("start")
        .status()
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    assert!(status.success(), "tests/services/{script} start failed: {status}");
}
