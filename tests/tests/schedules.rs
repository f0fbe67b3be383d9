//! Schedules through the official SDKs: the schedule API end to end through
//! the TypeScript SDK (the Python scenario, schedules.py, is one of
//! scenarios.rs, so it runs on every store and log too), the README's CLI
//! commands, and schedules through a SIGKILL and a downtime, where the
//! catchup window decides which missed times run (schedules_restart.py; this
//! test owns the server).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use temper_tests::{ScenarioProcess, TestDir, TestServer, cli, cli_json, run_typescript_scenario};

/// Longer than the ten-second catchup window plus a period, so that one
/// schedule must miss times and the other must make them up.
const DOWNTIME: Duration = Duration::from_secs(15);

#[test]
fn schedule_api_through_the_typescript_sdk() {
    run_typescript_scenario("schedules.js");
}

/// The README's `temporal schedule` commands, as written there.
#[test]
fn the_readme_schedule_commands_work_through_the_official_cli() {
    let server = TestServer::start();
    let address = server.address();
    let id = "nightly-report";
    cli(&address, &[
        "schedule", "create", "--schedule-id", id, "--cron", "30 2 * * *", "--time-zone", "America/New_York",
        "--workflow-id", id, "--task-queue", "reports", "--type", "NightlyReport",
        "--overlap-policy", "Skip", "--catchup-window", "1h",
    ]);
    let described = cli_json(&address, &["schedule", "describe", "--schedule-id", id]);
    let calendar = &described["schedule"]["spec"]["structuredCalendar"][0];
    assert_eq!((&calendar["hour"][0]["start"], &calendar["minute"][0]["start"]), (&2.into(), &30.into()), "{described}");
    assert_eq!(described["schedule"]["spec"]["timezoneName"], "America/New_York", "{described}");
    assert_eq!(described["schedule"]["policies"]["catchupWindow"], "3600s", "{described}");
    assert!(cli(&address, &["schedule", "list"]).contains(id), "listed");

    cli(&address, &["schedule", "trigger", "--schedule-id", id]);
    cli(&address, &[
        "schedule", "backfill", "--schedule-id", id, "--start-time", "2026-11-01T00:00:00Z",
        "--end-time", "2026-11-03T23:59:59Z", "--overlap-policy", "AllowAll",
    ]);
    cli(&address, &["schedule", "toggle", "--schedule-id", id, "--pause", "--reason", "db migration"]);
    let described = cli_json(&address, &["schedule", "describe", "--schedule-id", id]);
    assert_eq!(described["schedule"]["state"]["paused"], true, "{described}");
    assert_eq!(described["schedule"]["state"]["notes"], "db migration", "{described}");
    assert_eq!(described["info"]["actionCount"], "4", "one trigger and three backfilled nights: {described}");

    let listed = cli(&address, &["workflow", "list", "--query", &format!("TemporalScheduledById = '{id}'")]);
    for night in ["2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z", "2026-11-03T07:30:00Z"] {
        assert!(listed.contains(&format!("{id}-{night}")), "the backfilled night {night} in:\n{listed}");
    }
    cli(&address, &["schedule", "delete", "--schedule-id", id]);
    assert!(!cli(&address, &["schedule", "list"]).contains(id), "deleted");
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
