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
//!   store: cassandra           # or `embedded`
//!   cassandra:
//!     contact_points: ["10.0.0.5:9042", "10.0.0.6:9042"]
//!     keyspace: temper
//!     consistency: LOCAL_QUORUM
//!     serial_consistency: LOCAL_SERIAL
//! ```
//!
//! Environment overrides: `TEMPER_ADDRESS`, `TEMPER_DATA_DIR`,
//! `TEMPER_CASSANDRA_CONTACT_POINTS` (comma-separated),
//! `TEMPER_CASSANDRA_KEYSPACE`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use scylla::statement::{Consistency, SerialConsistency};
use temper_engine::store::cassandra::CassandraConfig;

use crate::gateway::Limits;
use crate::server::{DevServerConfig, StoreSelection};

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
}

#[derive(Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum StoreKind {
    #[default]
    Embedded,
    Cassandra,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CassandraSection {
    contact_points: Vec<String>,
    #[serde(default = "default_keyspace")]
    keyspace: String,
    consistency: Option<String>,
    serial_consistency: Option<String>,
}

fn default_address() -> String {
    "127.0.0.1:7233".to_string()
}

fn default_shards() -> u32 {
    4
}

fn default_keyspace() -> String {
    "temper".to_string()
}

/// Reads a config file, applies the environment's overrides, and turns it
/// into the server's settings.
pub fn load(path: &Path) -> Result<DevServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
    let mut file: ConfigFile = serde_norway::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    apply_environment(&mut file, |name| std::env::var(name).ok());
    server_config(file).map_err(invalid)
}

fn apply_environment(file: &mut ConfigFile, variable: impl Fn(&str) -> Option<String>) {
    if let Some(address) = variable("TEMPER_ADDRESS") {
        file.server.address = address;
    }
    if let Some(data_dir) = variable("TEMPER_DATA_DIR") {
        file.server.data_dir = PathBuf::from(data_dir);
    }
    if let Some(cassandra) = file.persistence.cassandra.as_mut() {
        if let Some(points) = variable("TEMPER_CASSANDRA_CONTACT_POINTS") {
            cassandra.contact_points = points.split(',').map(|point| point.trim().to_string()).collect();
        }
        if let Some(keyspace) = variable("TEMPER_CASSANDRA_KEYSPACE") {
            cassandra.keyspace = keyspace;
        }
    }
}

fn server_config(file: ConfigFile) -> Result<DevServerConfig, String> {
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
        store: store_selection(file.persistence)?,
    })
}

fn store_selection(persistence: PersistenceSection) -> Result<StoreSelection, String> {
    match (persistence.store, persistence.cassandra) {
        (StoreKind::Embedded, _) => Ok(StoreSelection::Embedded),
        (StoreKind::Cassandra, None) => Err("persistence.store is cassandra but persistence.cassandra is missing".into()),
        (StoreKind::Cassandra, Some(section)) => Ok(StoreSelection::Cassandra(cassandra_config(section)?)),
    }
}

fn cassandra_config(section: CassandraSection) -> Result<CassandraConfig, String> {
    if section.contact_points.is_empty() {
        return Err("persistence.cassandra.contact_points is empty".into());
    }
    let defaults = CassandraConfig::default();
    Ok(CassandraConfig {
        contact_points: section.contact_points,
        keyspace: section.keyspace,
        consistency: section.consistency.as_deref().map(consistency).transpose()?.unwrap_or(defaults.consistency),
        serial_consistency: section
            .serial_consistency
            .as_deref()
            .map(serial_consistency)
            .transpose()?
            .unwrap_or(defaults.serial_consistency),
        ..defaults
    })
}

fn consistency(name: &str) -> Result<Consistency, String> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "EACH_QUORUM" => Consistency::EachQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        _ => return Err(format!("persistence.cassandra.consistency `{name}` is not a CQL consistency level")),
    })
}

fn serial_consistency(name: &str) -> Result<SerialConsistency, String> {
    match name.to_ascii_uppercase().as_str() {
        "SERIAL" => Ok(SerialConsistency::Serial),
        "LOCAL_SERIAL" => Ok(SerialConsistency::LocalSerial),
        _ => Err(format!("persistence.cassandra.serial_consistency `{name}` is not SERIAL or LOCAL_SERIAL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<DevServerConfig, String> {
        let file: ConfigFile = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        server_config(file)
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
        let config = server_config(file).unwrap();
        assert_eq!(config.address, "0.0.0.0:7234".parse().unwrap());
        let StoreSelection::Cassandra(cassandra) = config.store else { panic!("cassandra") };
        assert_eq!(cassandra.contact_points, vec!["h1:9042", "h2:9042"]);
    }
}
