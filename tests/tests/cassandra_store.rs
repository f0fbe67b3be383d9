//! Temper on the Cassandra store (`temper server start --config`, with the
//! embedded log beside it until the Kafka log exists): a keyspace set up with
//! `temper schema setup`, then Python SDK scenarios, then the kill -9 crash
//! test. Cassandra comes from tests/services/cassandra.sh; without `java` the
//! test says so loudly and passes (the only allowed skip).

use std::path::Path;
use std::process::Command;

use temper_tests::{ServerKind, TestDir, TestServer, crash_and_recover, run_python};

fn java_is_installed() -> bool {
    Command::new("java").arg("-version").output().is_ok_and(|output| output.status.success())
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sdk_scenarios_and_a_crash_on_the_cassandra_store() {
    let ServerKind::Temper(temper) = ServerKind::detect() else {
        eprintln!("the Cassandra store is Temper's; nothing to run against Temporal's server");
        return;
    };
    if !java_is_installed() {
        eprintln!("\n!!!!! SKIPPED: no `java` on PATH, so no Cassandra to run Temper's Cassandra store against !!!!!\n");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/cassandra.sh");
    run(Command::new("bash").arg(script).arg("start"), "tests/services/cassandra.sh start");
    let port = std::env::var("CASSANDRA_PORT").unwrap_or_else(|_| "9042".to_string());
    let keyspace = format!("sdk_scenarios_{}", std::process::id());
    run(
        Command::new(&temper)
            .args(["schema", "setup", "--keyspace", &keyspace, "--contact-point"])
            .arg(format!("127.0.0.1:{port}")),
        "temper schema setup",
    );

    let dir = TestDir::new("cassandra-store");
    let config = dir.path().join("temper.yaml");
    let yaml = format!(
        "server:\n  data_dir: {}\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [\"127.0.0.1:{port}\"]\n    keyspace: {keyspace}\n",
        dir.path().join("data").display()
    );
    std::fs::write(&config, yaml).expect("writing the config file");

    let mut server = TestServer::start_with_config(&config);
    let address = server.address();
    for scenario in ["hello_activity.py", "signal_query.py", "many_workflows.py"] {
        run_python(scenario, &["--address", &address, "--namespace", "default"]);
    }
    crash_and_recover(&mut server);
}
