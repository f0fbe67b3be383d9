//! Temper on the Kafka log and the Cassandra store, every role still in one
//! process (`temper server start --config` with `persistence.log: kafka`):
//! every Python SDK scenario, then the kill -9 crash test. Kafka and
//! Cassandra come from tests/services/kafka.sh and cassandra.sh; without
//! `java` the test says so loudly and passes (the only allowed skip).

use temper_tests::{
    SDK_SCENARIOS, TestDir, crash_and_recover, run_python, start_cassandra_and_kafka, start_temper_on_cassandra_and_kafka,
    temper_for_cassandra_tests,
};

#[test]
fn sdk_scenarios_and_a_crash_on_the_kafka_log() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let (cassandra, kafka) = start_cassandra_and_kafka();
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
