//! Scenario 14: the server is killed with SIGKILL while 100 workflows are in
//! flight, restarted on the same port and database, and every workflow must
//! still complete exactly once (tests/python/scenarios/crash_recovery.py does
//! the workflow part and the checks; this test owns the server).

use std::time::{Duration, Instant};

use temper_tests::{PythonProcess, TestDir, TestServer};

#[test]
fn crash_recovery_after_sigkill() {
    let dir = TestDir::new("crash-recovery");
    let db = dir.path().join("state.db");
    let mut server = TestServer::start_with_db(&db);
    let address = server.address();

    let mut scenario = PythonProcess::spawn(
        "crash_recovery.py",
        &[
            "--address",
            &address,
            "--namespace",
            "default",
            "--crash-handshake",
        ],
    );
    // Printed once all 100 workflows are started and some first activities
    // have completed (so work is in flight everywhere: activities, timers,
    // workflow tasks).
    let crash_point = scenario.wait_for_line("CRASH_POINT", Duration::from_secs(120));
    eprintln!("[crash test] {crash_point}; killing the server with SIGKILL");

    server.kill_9();
    let down_since = Instant::now();
    server.restart();
    eprintln!(
        "[crash test] server restarted on {address} after {:.2}s down",
        down_since.elapsed().as_secs_f64()
    );
    scenario.write_line("RESTARTED");

    scenario.finish(Duration::from_secs(300));
    drop(server);
}
