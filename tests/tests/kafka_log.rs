//! Temper on the Kafka log and the Cassandra store, every role still in one
//! process (`temper server start --config` with `persistence.log: kafka`):
//! every Python SDK scenario, then the kill -9 crash test. Kafka and
//! Cassandra come from tests/services/kafka.sh and cassandra.sh; without
//! `java` the test says so loudly and passes (the only allowed skip).

use std::path::Path;
use std::process::Command;

use temper_tests::{SDK_SCENARIOS, TestDir, crash_and_recover, run_or_panic, run_python, start_temper_on_cassandra_and_kafka, temper_for_cassandra_tests};

#[test]
fn sdk_scenarios_and_a_crash_on_the_kafka_log() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let services = Path::new(env!("CARGO_MANIFEST_DIR")).join("services");
    run_or_panic(Command::new("bash").arg(services.join("cassandra.sh")).arg("start"), "tests/services/cassandra.sh start");
    run_or_panic(Command::new("bash").arg(services.join("kafka.sh")).arg("start"), "tests/services/kafka.sh start");
    let cassandra = format!("127.0.0.1:{}", std::env::var("CASSANDRA_PORT").unwrap_or_else(|_| "9042".to_string()));
    let kafka = format!("127.0.0.1:{}", std::env::var("KAFKA_PORT").unwrap_or_else(|_| "9092".to_string()));
    let run = std::process::id();
    let keyspace = format!("kafka_log_{run}");
    let topic_prefix = format!("kafka-log-{run}-");
    let dir = TestDir::new("kafka-log");
    let mut server = start_temper_on_cassandra_and_kafka(&temper, &cassandra, &keyspace, (&kafka, &topic_prefix), &dir);
    let address = server.address();
    for scenario in SDK_SCENARIOS {
        run_python(scenario, &["--address", &address, "--namespace", "default"]);
    }
    crash_and_recover(&mut server);
}
