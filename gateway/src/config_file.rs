//! `temper server start --config temper.yaml`: the server's settings from a
//! file in the spirit of Temporal's `config.yml`, with environment variables
//! overriding what a deployment varies per host.
//!
//! ```yaml
//! server:
//!   address: 0.0.0.0:7233
//!   shards: 16                 # fixed once data exists
//!   namespaces: [orders]       # created at start; `default` always exists
//!   data_dir: /var/lib/temper  # the logs (embedded until the Kafka log)
//! persistence:
//!   log: kafka                 # or `embedded` (in data_dir)
//!   kafka:
//!     bootstrap_servers: 10.0.0.7:9092,10.0.0.8:9092
//!     topic_prefix: temper-    # topics temper-commands, -tasks, -visibility
//!     replication_factor: 3    # when the topics are created
//!     linger: 1ms              # how long the producer gathers records into one request
//!   store: cassandra           # or `embedded`
//!   cassandra:
//!     contact_points: ["10.0.0.5:9042", "10.0.0.6:9042"]
//!     keyspace: temper
//!     consistency: LOCAL_QUORUM
//!     serial_consistency: LOCAL_SERIAL
//!     # credentials, TLS, pool size, connect timeout: see cassandra_settings
//! metrics:
//!   address: 0.0.0.0:9090      # Prometheus' `/metrics`; "" turns it off
//! tracing:                     # off without an endpoint
//!   otlp_endpoint: http://jaeger-collector:4317   # OTLP over gRPC
//!   service_name: temper
//!   sample_ratio: 1.0          # of new traces; traced callers decide for theirs
//! cluster:                     # processes sharing the store find each other
//!   advertise_address: 10.0.0.3:7233  # how the others reach this process
//!   heartbeat_interval: 500ms
//!   lease: 3s                  # a silent process's shards move after this
//! ```
//!
//! Environment overrides: `TEMPER_ADDRESS`, `TEMPER_DATA_DIR`,
//! `TEMPER_CASSANDRA_CONTACT_POINTS` (comma-separated),
//! `TEMPER_CASSANDRA_KEYSPACE`, `TEMPER_CASSANDRA_USER`,
//! `TEMPER_CASSANDRA_PASSWORD`, `TEMPER_KAFKA_BOOTSTRAP_SERVERS`,
//! `TEMPER_ADVERTISE_ADDRESS` (a Kubernetes pod's IP and port, say),
//! `TEMPER_METRICS_ADDRESS`; and OpenTelemetry's own `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_SERVICE_NAME` and `OTEL_TRACES_SAMPLER_ARG`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cassandra_settings::CassandraSection;
use crate::gateway::Limits;
use crate::roles::{ClusterSettings, Roles};
use crate::server::{DevServerConfig, LogSelection, MetricsSettings, StoreSelection, TracingSettings};
use crate::telemetry::traces::TracingVariables;
use std::time::Duration;
use temper_engine::log::kafka::KafkaLogConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: ServerSection,
    #[serde(default)]
    persistence: PersistenceSection,
    #[serde(default)]
    cluster: ClusterSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    tracing: TracingSection,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracingSection {
    /// The OTLP/gRPC endpoint, like `http://jaeger-collector:4317`.
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
    /// The share of new traces recorded, 0 to 1.
    sample_ratio: Option<f64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    /// `ip:port` of `/metrics`; empty turns it off.
    address: Option<String>,
}


#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    advertise_address: Option<String>,
    heartbeat_interval: Option<String>,
    lease: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    #[serde(default = "default_address")]
    address: String,
    #[serde(default = "default_shards")]
    shards: u32,
    #[serde(default)]
    namespaces: Vec<String>,
    data_dir: PathBuf,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersistenceSection {
    #[serde(default)]
    store: StoreKind,
    cassandra: Option<CassandraSection>,
    #[serde(default)]
    log: LogKind,
    kafka: Option<KafkaSection>,
}

#[derive(Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum LogKind {
    #[default]
    Embedded,
    Kafka,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KafkaSection {
    bootstrap_servers: String,
    #[serde(default = "default_topic_prefix")]
    topic_prefix: String,
    #[serde(default = "default_replication_factor")]
    replication_factor: i32,
    /// How long the producer gathers records into one request, like 5ms.
    linger: Option<String>,
}

fn default_topic_prefix() -> String {
    KafkaLogConfig::default().topic_prefix
}

fn default_replication_factor() -> i32 {
    KafkaLogConfig::default().replication_factor
}

#[derive(Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum StoreKind {
    #[default]
    Embedded,
    Cassandra,
}

fn default_address() -> String {
    "127.0.0.1:7233".to_string()
}

fn default_shards() -> u32 {
    4
}

/// Reads a config file, applies the environment's overrides, and turns it
/// into the server's settings.
pub fn load(path: &Path) -> Result<DevServerConfig, ConfigError> {
    let mut file = parse(path)?;
    apply_environment(&mut file, |name| std::env::var(name).ok());
    let tracing_variables = TracingVariables::read(|name| std::env::var(name).ok()).map_err(|message| invalid(path, message))?;
    server_config(file, tracing_variables).map_err(|message| invalid(path, message))
}

/// The file's `persistence.cassandra` section as written, for `temper
/// schema --config`; the caller applies the environment and its flags.
pub fn cassandra_section(path: &Path) -> Result<CassandraSection, ConfigError> {
    parse(path)?
        .persistence
        .cassandra
        .ok_or_else(|| invalid(path, "has no persistence.cassandra section".to_string()))
}

fn parse(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    serde_norway::from_str(&text).map_err(|error| invalid(path, error.to_string()))
}

fn invalid(path: &Path, message: String) -> ConfigError {
    ConfigError::Invalid { path: path.to_path_buf(), message }
}

fn apply_environment(file: &mut ConfigFile, variable: impl Fn(&str) -> Option<String>) {
    if let Some(address) = variable("TEMPER_ADDRESS") {
        file.server.address = address;
    }
    if let Some(address) = variable("TEMPER_ADVERTISE_ADDRESS") {
        file.cluster.advertise_address = Some(address);
    }
    if let Some(address) = variable("TEMPER_METRICS_ADDRESS") {
        file.metrics.address = Some(address);
    }
    if let Some(data_dir) = variable("TEMPER_DATA_DIR") {
        file.server.data_dir = PathBuf::from(data_dir);
    }
    if let Some(kafka) = file.persistence.kafka.as_mut() {
        if let Some(servers) = variable("TEMPER_KAFKA_BOOTSTRAP_SERVERS") {
            kafka.bootstrap_servers = servers;
        }
    }
    if let Some(cassandra) = file.persistence.cassandra.as_mut() {
        cassandra.apply_environment(variable);
    }
}

fn server_config(file: ConfigFile, tracing_variables: TracingVariables) -> Result<DevServerConfig, String> {
    let address: SocketAddr =
        file.server.address.parse().map_err(|_| format!("server.address `{}` is not an ip:port", file.server.address))?;
    if !(1..=1024).contains(&file.server.shards) {
        return Err(format!("server.shards is {}; it must be 1 to 1024", file.server.shards));
    }
    Ok(DevServerConfig {
        address,
        db_path: Some(file.server.data_dir),
        namespaces: file.server.namespaces,
        shards: file.server.shards,
        limits: Limits::default(),
        run_limits: Default::default(),
        compaction_interval: std::time::Duration::from_secs(60),
        log: log_selection(&file.persistence)?,
        store: store_selection(file.persistence)?,
        roles: Roles::ALL,
        cluster: cluster_settings(file.cluster)?,
        metrics: metrics_settings(&file.metrics)?,
        tracing: tracing_settings(file.tracing, tracing_variables)?,
    })
}

/// An address the file names must be served; the default one (port 9090)
/// is served when free, so processes sharing a host still start.
fn metrics_settings(section: &MetricsSection) -> Result<MetricsSettings, String> {
    let Some(configured) = &section.address else {
        let default = SocketAddr::from(([0, 0, 0, 0], MetricsSettings::DEFAULT_PORT));
        return Ok(MetricsSettings { address: Some(default), required: false });
    };
    if configured.is_empty() {
        return Ok(MetricsSettings::off());
    }
    let address = configured.parse().map_err(|_| format!("metrics.address `{configured}` is not an ip:port"))?;
    Ok(MetricsSettings { address: Some(address), required: true })
}

/// The file's tracing settings, under what the standard OpenTelemetry
/// variables set (`variables`).
fn tracing_settings(section: TracingSection, variables: TracingVariables) -> Result<TracingSettings, String> {
    TracingSettings::new(
        variables.otlp_endpoint.or(section.otlp_endpoint),
        variables.service_name.or(section.service_name),
        variables.sample_ratio.or(section.sample_ratio),
    )
    .map_err(|message| format!("tracing: {message}"))
}

fn cluster_settings(section: ClusterSection) -> Result<ClusterSettings, String> {
    let defaults = ClusterSettings::default();
    let positive = |value: Option<String>, key: &str, default: Duration| {
        let duration = duration_setting(value.as_deref(), key, default)?;
        if duration.is_zero() { Err(format!("{key} must be longer than zero")) } else { Ok(duration) }
    };
    let heartbeat_interval = positive(section.heartbeat_interval, "cluster.heartbeat_interval", defaults.heartbeat_interval)?;
    let lease = positive(section.lease, "cluster.lease", defaults.lease)?;
    if lease < heartbeat_interval * 2 {
        return Err(format!(
            "cluster.lease ({lease:?}) must be at least twice cluster.heartbeat_interval ({heartbeat_interval:?}), or a process that misses one renewal loses its shards"
        ));
    }
    if let Some(address) = &section.advertise_address {
        check_advertise_address(address)?;
    }
    Ok(ClusterSettings { advertise_address: section.advertise_address, heartbeat_interval, lease })
}

/// The longest producer linger allowed: it delays every command.
const MAX_LINGER: Duration = Duration::from_secs(1);

/// A duration setting (`key` names it in errors), `default` when absent.
fn duration_setting(value: Option<&str>, key: &str, default: Duration) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(text) => temper_bench::parse_duration(text).map_err(|error| format!("{key} `{text}` is not a duration like 500ms or 3s: {error}")),
    }
}

/// Other processes dial it, so it must be a reachable host and a port.
fn check_advertise_address(address: &str) -> Result<(), String> {
    let usable = match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && host != "0.0.0.0" && host != "[::]" && port.parse::<u16>().is_ok_and(|port| port > 0),
        None => false,
    };
    if usable { Ok(()) } else { Err(format!("cluster.advertise_address `{address}` must be a reachable host:port, like 10.0.0.3:7233")) }
}

fn log_selection(persistence: &PersistenceSection) -> Result<LogSelection, String> {
    match (&persistence.log, &persistence.kafka) {
        (LogKind::Embedded, _) => Ok(LogSelection::Embedded),
        (LogKind::Kafka, None) => Err("persistence.log is kafka but persistence.kafka is missing".into()),
        (LogKind::Kafka, Some(section)) => {
            if section.bootstrap_servers.trim().is_empty() {
                return Err("persistence.kafka.bootstrap_servers is empty".into());
            }
            if section.replication_factor < 1 {
                return Err(format!("persistence.kafka.replication_factor is {}; it must be at least 1", section.replication_factor));
            }
            let defaults = KafkaLogConfig::default();
            let linger = duration_setting(section.linger.as_deref(), "persistence.kafka.linger", defaults.linger)?;
            if linger > MAX_LINGER {
                return Err(format!("persistence.kafka.linger ({linger:?}) adds that much to every append; at most {MAX_LINGER:?} is allowed"));
            }
            Ok(LogSelection::Kafka(KafkaLogConfig {
                bootstrap_servers: section.bootstrap_servers.clone(),
                topic_prefix: section.topic_prefix.clone(),
                replication_factor: section.replication_factor,
                linger,
                ..defaults
            }))
        }
    }
}

fn store_selection(persistence: PersistenceSection) -> Result<StoreSelection, String> {
    match (persistence.store, persistence.cassandra) {
        (StoreKind::Embedded, _) => Ok(StoreSelection::Embedded),
        (StoreKind::Cassandra, None) => Err("persistence.store is cassandra but persistence.cassandra is missing".into()),
        (StoreKind::Cassandra, Some(section)) => {
            Ok(StoreSelection::Cassandra(section.into_config().map_err(|error| error.to_string())?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::statement::{Consistency, SerialConsistency};

    fn parsed(text: &str) -> Result<DevServerConfig, String> {
        let file: ConfigFile = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        server_config(file, TracingVariables::default())
    }

    #[test]
    fn tracing_is_read_from_the_file_under_the_standard_variables() {
        let file = "server:\n  data_dir: /tmp/x\ntracing:\n  otlp_endpoint: http://collector:4317\n  service_name: from-file\n  sample_ratio: 0.5\n";
        let read = parsed(file).unwrap().tracing;
        assert_eq!(read, TracingSettings::new(Some("http://collector:4317".into()), Some("from-file".into()), Some(0.5)).unwrap());
        let variables = TracingVariables::read(|name| match name {
            "OTEL_SERVICE_NAME" => Some("temper".into()),
            "OTEL_TRACES_SAMPLER_ARG" => Some("1".into()),
            _ => None,
        })
        .unwrap();
        let file: ConfigFile = serde_norway::from_str(file).unwrap();
        let overridden = server_config(file, variables).unwrap().tracing;
        assert_eq!((overridden.service_name.as_str(), overridden.sample_ratio), ("temper", 1.0), "a variable set to the default still wins");
        assert!(parsed("server:\n  data_dir: /tmp/x\ntracing:\n  sample_ratio: 2\n").unwrap_err().contains("from 0 to 1"));
        let bad = TracingVariables::read(|name| (name == "OTEL_TRACES_SAMPLER_ARG").then(|| "half".to_string()));
        assert!(bad.unwrap_err().contains("OTEL_TRACES_SAMPLER_ARG"));
    }

    #[test]
    fn a_cassandra_config_is_read_with_defaults_filled_in() {
        let config = parsed(
            "server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [\"10.0.0.5:9042\"]\n    consistency: quorum\n",
        )
        .expect("a valid file");
        assert_eq!(config.address, "127.0.0.1:7233".parse().unwrap());
        match config.store {
            StoreSelection::Cassandra(cassandra) => {
                assert_eq!(cassandra.contact_points, vec!["10.0.0.5:9042"]);
                assert_eq!(cassandra.keyspace, "temper");
                assert_eq!(cassandra.consistency, Consistency::Quorum);
                assert_eq!(cassandra.serial_consistency, SerialConsistency::LocalSerial);
            }
            StoreSelection::Embedded => panic!("the file asks for cassandra"),
        }
    }

    #[test]
    fn a_kafka_log_is_read_with_defaults_filled_in() {
        let config = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  log: kafka\n  kafka:\n    bootstrap_servers: k1:9092\n")
            .expect("a valid file");
        match config.log {
            LogSelection::Kafka(kafka) => {
                assert_eq!(kafka.bootstrap_servers, "k1:9092");
                assert_eq!(kafka.topic_prefix, "temper-");
                assert_eq!(kafka.replication_factor, 1);
            }
            LogSelection::Embedded => panic!("the file asks for kafka"),
        }
        let missing = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  log: kafka\n").err().unwrap();
        assert!(missing.contains("persistence.kafka is missing"), "{missing}");
        let factor = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  log: kafka\n  kafka:\n    bootstrap_servers: k\n    replication_factor: 0\n")
            .err()
            .unwrap();
        assert!(factor.contains("replication_factor is 0"), "{factor}");
        let kafka_with = |setting: &str| parsed(&format!("server:\n  data_dir: /tmp/t\npersistence:\n  log: kafka\n  kafka:\n    bootstrap_servers: k\n    {setting}\n"));
        match kafka_with("linger: 5ms").expect("a valid linger").log {
            LogSelection::Kafka(kafka) => assert_eq!(kafka.linger, Duration::from_millis(5)),
            LogSelection::Embedded => panic!("the file asks for kafka"),
        }
        let long = kafka_with("linger: 2s").err().unwrap();
        assert!(long.contains("persistence.kafka.linger") && long.contains("at most 1s"), "{long}");
        let garbled = kafka_with("linger: briefly").err().unwrap();
        assert!(garbled.contains("persistence.kafka.linger `briefly`"), "{garbled}");
        let unknown = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  kafka:\n    bootstrap: k\n").err().unwrap();
        assert!(unknown.contains("bootstrap"), "{unknown}");
    }

    #[test]
    fn cluster_settings_are_read_and_checked() {
        let config = parsed("server:\n  data_dir: /tmp/t\ncluster:\n  advertise_address: 10.0.0.3:7233\n  lease: 5s\n").unwrap();
        assert_eq!(config.cluster.advertise_address.as_deref(), Some("10.0.0.3:7233"));
        assert_eq!(config.cluster.lease, Duration::from_secs(5));
        assert_eq!(config.cluster.heartbeat_interval, Duration::from_millis(500));
        let short = parsed("server:\n  data_dir: /tmp/t\ncluster:\n  lease: 600ms\n").err().unwrap();
        assert!(short.contains("at least twice"), "{short}");
        let unroutable = parsed("server:\n  data_dir: /tmp/t\ncluster:\n  advertise_address: 0.0.0.0:7233\n").err().unwrap();
        assert!(unroutable.contains("reachable host:port"), "{unroutable}");
        let garbled = parsed("server:\n  data_dir: /tmp/t\ncluster:\n  heartbeat_interval: soon\n").err().unwrap();
        assert!(garbled.contains("cluster.heartbeat_interval `soon`"), "{garbled}");
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = parsed("server:\n  data_dir: /tmp/t\n  adress: x\n").err().unwrap();
        assert!(unknown.contains("adress"), "{unknown}");
        let missing = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n").err().unwrap();
        assert!(missing.contains("persistence.cassandra is missing"), "{missing}");
        let level = parsed("server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [a]\n    consistency: most\n")
            .err()
            .unwrap();
        assert!(level.contains("`most`"), "{level}");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut file: ConfigFile = serde_norway::from_str(
            "server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [a]\n",
        )
        .unwrap();
        apply_environment(&mut file, |name| match name {
            "TEMPER_CASSANDRA_CONTACT_POINTS" => Some("h1:9042, h2:9042".into()),
            "TEMPER_ADDRESS" => Some("0.0.0.0:7234".into()),
            _ => None,
        });
        let config = server_config(file, TracingVariables::default()).unwrap();
        assert_eq!(config.address, "0.0.0.0:7234".parse().unwrap());
        let StoreSelection::Cassandra(cassandra) = config.store else { panic!("cassandra") };
        assert_eq!(cassandra.contact_points, vec!["h1:9042", "h2:9042"]);
    }

    #[test]
    fn a_secured_cluster_is_read_with_its_password_from_the_environment() {
        let mut file: ConfigFile = serde_norway::from_str(
            "server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [a]\n    user: temper\n    max_conns: 2\n    tls:\n      enabled: true\n      ca_file: /etc/ca.pem\n",
        )
        .unwrap();
        apply_environment(&mut file, |name| (name == "TEMPER_CASSANDRA_PASSWORD").then(|| "from-env".to_string()));
        let StoreSelection::Cassandra(cassandra) = server_config(file, TracingVariables::default()).unwrap().store else { panic!("cassandra") };
        let credentials = cassandra.credentials.expect("credentials");
        assert_eq!(credentials.username, "temper");
        assert_eq!(credentials.password, temper_engine::store::cassandra::Password::new("from-env"));
        assert_eq!(cassandra.tls.expect("tls").ca_file, PathBuf::from("/etc/ca.pem"));
    }

    #[test]
    fn a_bad_cassandra_setting_is_one_line_naming_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("temper.yaml");
        std::fs::write(&path, "server:\n  data_dir: /tmp/t\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [a]\n    max_conns: 0\n").unwrap();
        let error = load(&path).expect_err("max_conns 0 is refused").to_string();
        assert_eq!(error, format!("{}: persistence.cassandra.max_conns is 0; it must be at least 1", path.display()));
        std::fs::write(&path, "server:\n  data_dir: /tmp/t\n").unwrap();
        let missing = cassandra_section(&path).err().expect("no section").to_string();
        assert!(missing.ends_with("has no persistence.cassandra section"), "{missing}");
    }
}
