//! Schedules through the official SDKs: the schedule API end to end
//! (tests/python/scenarios/schedules.py and its TypeScript counterpart), and
//! schedules through a SIGKILL and a downtime, where the catchup window
//! decides which missed times run (schedules_restart.py; this test owns the
//! server).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use temper_tests::{ScenarioProcess, TestDir, TestServer, run_scenario, run_typescript_scenario};

/// Longer than the ten-second catchup window plus a period, so that one
/// schedule must miss times and the other must make them up.
const DOWNTIME: Duration = Duration::from_secs(15);

#[test]
fn schedule_api_through_the_python_sdk() {
    run_scenario("schedules.py", &[]);
}

#[test]
fn schedule_api_through_the_typescript_sdk() {
    run_typescript_scenario("schedules.js");
}

#[test]
fn schedules_survive_sigkill_and_catch_up_within_their_window() {
    let dir = TestDir::new("schedules-restart");
    let mut server = TestServer::start_with_db(dir.path().join("state.db"));
    let address = server.address();
    let mut scenario =
        ScenarioProcess::spawn("schedules_restart.py", &["--address", &address, "--namespace", "default", "--crash-handshake"]);
    scenario.wait_for_line("CRASH_POINT", Duration::from_secs(60));
    server.kill_9();
    let down_since = Instant::now();
    std::thread::sleep(DOWNTIME);
    // No wake of a schedule can come before this instant.
    let restarting = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64();
    server.restart();
    eprintln!("[schedules] server restarted after {:.1}s down", down_since.elapsed().as_secs_f64());
    scenario.write_line(&format!("RESTARTED {restarting:.6}"));
    scenario.finish(Duration::from_secs(240));
}
