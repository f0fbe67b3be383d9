//! The official Temporal Web UI beside Temper, checked in a real headless
//! browser: `temper server start-dev --ui-port` runs Temporal's ui-server
//! (v2.53.1, built by tests/services/ui-server.sh), and
//! tests/typescript/scenarios/web_ui.js seeds workflows and a schedule
//! through the TypeScript SDK, then drives Debian's Chromium (found or
//! installed by tests/services/chromium.sh) with playwright-core through
//! the workflow list (rows, counts by status, a query), a completed
//! workflow's history, input and result, a signal, a termination, a
//! cancellation, a reset, an update and a start sent from the UI (each
//! checked through the SDK), a run's Pending Activities, Call Stack,
//! Workers and Relationships tabs, the namespace and task queue pages, and
//! the schedules pages with a trigger; every `/api/v1/` call the UI makes
//! must succeed. Against Temporal's dev server (`TEMPER_TEST_AGAINST_TEMPORAL=1`)
//! the same script runs on the UI that server embeds.
//!
//! Screenshots of every page land in `<target>/web-ui-screenshots/`; with
//! `TEMPER_UPDATE_SCREENSHOTS=1` the workflow list's is also copied to
//! `tests/screenshots/web-ui-workflow-list.png` (the picture the repository
//! shows), which a plain run leaves alone.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use temper_tests::{TestServer, crate_dir, run_typescript, target_dir};

/// How long the UI server may take to answer HTTP after the server is up.
const UI_READY_DEADLINE: Duration = Duration::from_secs(60);

/// Runs tests/services/<script>, which prints the path of what it provides.
fn service_path(script: &str) -> PathBuf {
    let path = crate_dir().join("services").join(script);
    let output = Command::new("bash").arg(&path).output().unwrap_or_else(|e| panic!("running tests/services/{script}: {e}"));
    assert!(
        output.status.success(),
        "tests/services/{script} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// The status line of `GET path` on 127.0.0.1:port, if it answers.
fn http_status_line(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    String::from_utf8_lossy(&response).lines().next().map(str::to_string)
}

/// Waits until the UI serves its page (the ui-server starts beside the
/// gRPC server, a moment after it).
fn wait_for_ui(server: &TestServer, port: u16) {
    let started = Instant::now();
    loop {
        match http_status_line(port, "/") {
            Some(status) if status.contains(" 200") => {
                eprintln!("[web_ui] the UI answers on 127.0.0.1:{port} after {:.2}s", started.elapsed().as_secs_f64());
                return;
            }
            last => {
                assert!(
                    started.elapsed() < UI_READY_DEADLINE,
                    "the Web UI did not answer on 127.0.0.1:{port} within {UI_READY_DEADLINE:?} (last: {last:?})\n--- server output ---\n{}",
                    server.output()
                );
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_official_web_ui_shows_and_drives_what_temper_holds() {
    let ui_server = service_path("ui-server.sh");
    let chromium = service_path("chromium.sh");
    let (mut server, ui_port) = TestServer::start_with_web_ui(&ui_server);
    let screenshots = target_dir().join("web-ui-screenshots");
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        wait_for_ui(&server, ui_port);
        let _ = fs::remove_dir_all(&screenshots);
        fs::create_dir_all(&screenshots).unwrap_or_else(|e| panic!("cannot create {}: {e}", screenshots.display()));
        let address = server.address();
        let ui_url = format!("http://127.0.0.1:{ui_port}");
        run_typescript(
            "web_ui.js",
            &[
                "--address",
                &address,
                "--namespace",
                "default",
                "--ui-url",
                &ui_url,
                "--chromium",
                &chromium.display().to_string(),
                "--screenshots",
                &screenshots.display().to_string(),
            ],
        );
    }));
    // A graceful stop, not the SIGKILL of the harness's drop: Temper stops
    // the ui-server it runs on its way out, and a SIGKILL would leave it
    // running on the UI port.
    server.stop_gracefully(Duration::from_secs(30));
    if let Err(failure) = outcome {
        eprintln!("[web_ui] --- server output (last lines) ---\n{}", server.output());
        panic::resume_unwind(failure);
    }

    if std::env::var("TEMPER_UPDATE_SCREENSHOTS").is_ok_and(|value| value == "1") {
        let from = screenshots.join("workflow-list.png");
        let to = crate_dir().join("screenshots").join("web-ui-workflow-list.png");
        fs::create_dir_all(to.parent().unwrap()).unwrap_or_else(|e| panic!("cannot create tests/screenshots: {e}"));
        fs::copy(&from, &to).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
        eprintln!("[web_ui] updated {}", to.display());
    }
}
