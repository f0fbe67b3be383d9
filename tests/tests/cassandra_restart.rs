//! Cassandra restarted while workflows run: requests fail with UNAVAILABLE
//! while it is down, nothing is lost or applied twice, and Temper recovers by
//! itself when it is back (tests/python/scenarios/cassandra_restart.py says
//! what is checked).
//!
//! The test kills Cassandra, so it runs an instance of its own (in a
//! directory of its own, on ports nobody else uses), never the shared one
//! the other Cassandra tests use. A guard kills that instance however the
//! test ends. Without `java` the test says so loudly and passes (the only
//! allowed skip).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use temper_tests::{ScenarioProcess, TestDir, run_or_panic, start_temper_on_cassandra, target_dir, temper_for_cassandra_tests};

/// A port nothing listens on now. Not the harness's `free_port`: that one
/// leaves a connection in TIME_WAIT on the port, and Cassandra binds its
/// storage port without SO_REUSEADDR.
fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("binding 127.0.0.1:0").port()
}

/// A single-node Cassandra of this test's own, killed when dropped.
struct OwnCassandra {
    dir: TestDir,
    port: u16,
    storage_port: u16,
}

impl OwnCassandra {
    fn start() -> OwnCassandra {
        let port = unused_port();
        let storage_port = std::iter::repeat_with(unused_port).find(|candidate| *candidate != port).expect("a second port");
        let cassandra = OwnCassandra { dir: TestDir::new("cassandra-restart-instance"), port, storage_port };
        cassandra.script("start");
        cassandra
    }

    fn contact_point(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn script(&self, action: &str) {
        run_or_panic(&mut self.command(action), &format!("tests/services/cassandra.sh {action} (port {})", self.port));
    }

    /// tests/services/cassandra.sh with this instance's directory and ports;
    /// the jars are shared with the default instance's.
    fn command(&self, action: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("services/cassandra.sh"))
            .arg(action)
            .env("TEMPER_SERVICES_DIR", self.dir.path())
            .env("CASSANDRA_JARS_DIR", jars_dir())
            .env("CASSANDRA_PORT", self.port.to_string())
            .env("CASSANDRA_STORAGE_PORT", self.storage_port.to_string())
            // Killed with SIGKILL, the only replica must not lose what it
            // acknowledged: with the default periodic commit-log sync it
            // does (up to 10 s of it), and no server built on it could keep
            // its word.
            .env("CASSANDRA_COMMITLOG_SYNC", "batch");
        command
    }
}

impl Drop for OwnCassandra {
    /// Never panics: it may run while a failed test unwinds.
    fn drop(&mut self) {
        match self.command("kill").output() {
            Ok(output) if output.status.success() => {}
            other => eprintln!("[cassandra restart] killing the test's own Cassandra failed: {other:?}"),
        }
    }
}

fn jars_dir() -> PathBuf {
    target_dir().join("services").join("cassandra")
}

#[test]
fn cassandra_restarted_while_workflows_run() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let cassandra = OwnCassandra::start();
    let dir = TestDir::new("cassandra-restart");
    let mut server = start_temper_on_cassandra(&temper, &cassandra.contact_point(), "restart", &dir);
    let address = server.address();

    let mut scenario = ScenarioProcess::spawn("cassandra_restart.py", &["--address", &address, "--namespace", "default"]);
    let stop_point = scenario.wait_for_line("STOP_POINT", Duration::from_secs(120));
    eprintln!("[cassandra restart] {stop_point}; killing Cassandra with SIGKILL");
    cassandra.script("kill");
    let down_since = Instant::now();
    scenario.write_line("STOPPED");

    let restart_point = scenario.wait_for_line("RESTART_POINT", Duration::from_secs(90));
    eprintln!("[cassandra restart] {restart_point}; starting Cassandra again, Temper untouched");
    cassandra.script("start");
    eprintln!("[cassandra restart] Cassandra answers again after {:.1}s down", down_since.elapsed().as_secs_f64());
    scenario.write_line("RESTARTED");
    scenario.finish(Duration::from_secs(300));
    assert!(server.is_running(), "Temper exited while Cassandra was down:\n{}", server.output());
}
