//! Scenario 14: the server is killed with SIGKILL while 100 workflows are in
//! flight, restarted on the same port and database, and every workflow must
//! still complete exactly once (tests/python/scenarios/crash_recovery.py does
//! the workflow part and the checks; this test owns the server).

use temper_tests::{TestDir, TestServer, crash_and_recover};

#[test]
fn crash_recovery_after_sigkill() {
    let dir = TestDir::new("crash-recovery");
    let mut server = TestServer::start_with_db(dir.path().join("state.db"));
    crash_and_recover(&mut server);
}
