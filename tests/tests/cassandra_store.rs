//! Temper on the Cassandra store (`temper server start --config`, with the
//! embedded log beside it until the Kafka log exists): a keyspace set up with
//! `temper schema setup`, then every Python SDK scenario, then the kill -9 crash
//! test. Cassandra comes from tests/services/cassandra.sh; without `java` the
//! test says so loudly and passes (the only allowed skip).

use std::path::Path;
use std::process::Command;

use temper_tests::{SDK_SCENARIOS, TestDir, crash_and_recover, run_or_panic, run_python, start_temper_on_cassandra, temper_for_cassandra_tests};

#[test]
fn sdk_scenarios_and_a_crash_on_the_cassandra_store() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/cassandra.sh");
    run_or_panic(Command::new("bash").arg(script).arg("start"), "tests/services/cassandra.sh start");
    let port = std::env::var("CASSANDRA_PORT").unwrap_or_else(|_| "9042".to_string());
    let keyspace = format!("sdk_scenarios_{}", std::process::id());
    let dir = TestDir::new("cassandra-store");
    let mut server = start_temper_on_cassandra(&temper, &format!("127.0.0.1:{port}"), &keyspace, &dir);
    let address = server.address();
    for scenario in SDK_SCENARIOS {
        run_python(scenario, &["--address", &address, "--namespace", "default"]);
    }
    crash_and_recover(&mut server);
}
