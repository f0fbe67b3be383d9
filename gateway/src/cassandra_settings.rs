//! How to reach the Cassandra/ScyllaDB cluster, as a deployment writes it:
//! the config file's `persistence.cassandra` section, the
//! `TEMPER_CASSANDRA_*` environment variables, and `temper schema`'s flags.
//! All three fill one [`CassandraSection`], which is checked and turned into
//! the engine's [`CassandraConfig`] in one place, so the server and the
//! schema tool connect alike.
//!
//! ```yaml
//! cassandra:
//!   contact_points: ["10.0.0.5:9042"]
//!   keyspace: temper
//!   consistency: LOCAL_QUORUM
//!   serial_consistency: LOCAL_SERIAL
//!   user: temper                  # password: better TEMPER_CASSANDRA_PASSWORD
//!   max_conns: 2                  # per node; or max_conns_per_shard (ScyllaDB)
//!   connect_timeout: 5s
//!   request_timeout: 10s
//!   tls:
//!     enabled: true
//!     ca_file: /etc/temper/cassandra-ca.pem
//!     cert_file: /etc/temper/client.pem   # with key_file, for mutual TLS
//!     key_file: /etc/temper/client-key.pem
//!     enable_host_verification: true      # the default
//!     server_name: cassandra.internal     # else each node's IP is checked
//! ```

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use scylla::client::PoolSize;
use scylla::statement::{Consistency, SerialConsistency};
use serde::Deserialize;
use temper_engine::store::cassandra::{
    CassandraConfig, ClientCertificate, Credentials, HostVerification, Password, TlsOptions,
};

/// A setting that cannot be used, named by its key in the config file.
#[derive(Debug, thiserror::Error)]
#[error("persistence.cassandra.{key} {problem}")]
pub struct InvalidSetting {
    key: &'static str,
    problem: String,
}

fn invalid(key: &'static str, problem: impl Into<String>) -> InvalidSetting {
    InvalidSetting { key, problem: problem.into() }
}

/// Deliberately not `Debug`: it holds the password as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CassandraSection {
    #[serde(default)]
    contact_points: Vec<String>,
    #[serde(default = "default_keyspace")]
    keyspace: String,
    consistency: Option<String>,
    serial_consistency: Option<String>,
    user: Option<String>,
    password: Option<String>,
    max_conns: Option<usize>,
    max_conns_per_shard: Option<usize>,
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
    tls: Option<TlsSection>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    // Required, as in Temporal's files: a section whose `enabled` was
    // forgotten would otherwise connect in plain text.
    enabled: bool,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default = "verify_hosts_by_default")]
    enable_host_verification: bool,
    server_name: Option<String>,
}

fn default_keyspace() -> String {
    "temper".to_string()
}

fn verify_hosts_by_default() -> bool {
    true
}

impl CassandraSection {
    /// A node on this machine, for `temper schema` without a config file.
    pub fn local() -> CassandraSection {
        CassandraSection {
            contact_points: CassandraConfig::default().contact_points,
            keyspace: default_keyspace(),
            consistency: None,
            serial_consistency: None,
            user: None,
            password: None,
            max_conns: None,
            max_conns_per_shard: None,
            connect_timeout: None,
            request_timeout: None,
            tls: None,
        }
    }

    /// What a deployment varies per host, or keeps out of files.
    pub fn apply_environment(&mut self, variable: impl Fn(&str) -> Option<String>) {
        if let Some(points) = variable("TEMPER_CASSANDRA_CONTACT_POINTS") {
            self.contact_points = points.split(',').map(|point| point.trim().to_string()).collect();
        }
        if let Some(keyspace) = variable("TEMPER_CASSANDRA_KEYSPACE") {
            self.keyspace = keyspace;
        }
        if let Some(user) = variable("TEMPER_CASSANDRA_USER") {
            self.user = Some(user);
        }
        if let Some(password) = variable("TEMPER_CASSANDRA_PASSWORD") {
            self.password = Some(password);
        }
    }

    pub fn into_config(self) -> Result<CassandraConfig, InvalidSetting> {
        if self.contact_points.is_empty() {
            return Err(invalid("contact_points", "is empty"));
        }
        let defaults = CassandraConfig::default();
        Ok(CassandraConfig {
            consistency: self.consistency.as_deref().map(consistency).transpose()?.unwrap_or(defaults.consistency),
            serial_consistency: self
                .serial_consistency
                .as_deref()
                .map(serial_consistency)
                .transpose()?
                .unwrap_or(defaults.serial_consistency),
            credentials: credentials(self.user, self.password)?,
            tls: self.tls.map(TlsSection::into_options).transpose()?.flatten(),
            pool_size: pool_size(self.max_conns, self.max_conns_per_shard)?.unwrap_or(defaults.pool_size),
            connect_timeout: timeout("connect_timeout", self.connect_timeout.as_deref())?.unwrap_or(defaults.connect_timeout),
            request_timeout: timeout("request_timeout", self.request_timeout.as_deref())?.unwrap_or(defaults.request_timeout),
            contact_points: self.contact_points,
            keyspace: self.keyspace,
            ..defaults
        })
    }
}

impl TlsSection {
    fn into_options(self) -> Result<Option<TlsOptions>, InvalidSetting> {
        if !self.enabled {
            return Ok(None);
        }
        let ca_file = self.ca_file.ok_or_else(|| {
            invalid("tls.ca_file", "is missing: TLS needs the CAs that sign the nodes' certificates (a system bundle such as /etc/ssl/certs/ca-certificates.crt will do for public ones)")
        })?;
        let client_certificate = match (self.cert_file, self.key_file) {
            (None, None) => None,
            (Some(cert_file), Some(key_file)) => Some(ClientCertificate { cert_file, key_file }),
            (Some(_), None) => return Err(invalid("tls.key_file", "is missing: tls.cert_file needs its key")),
            (None, Some(_)) => return Err(invalid("tls.cert_file", "is missing: tls.key_file needs its certificate")),
        };
        let host_verification = match (self.enable_host_verification, self.server_name) {
            (true, None) => HostVerification::NodeAddress,
            (true, Some(name)) => HostVerification::ServerName(name),
            (false, None) => HostVerification::Off,
            (false, Some(_)) => {
                return Err(invalid("tls.server_name", "is never checked: tls.enable_host_verification is false"));
            }
        };
        Ok(Some(TlsOptions { ca_file, client_certificate, host_verification }))
    }
}

fn credentials(user: Option<String>, password: Option<String>) -> Result<Option<Credentials>, InvalidSetting> {
    match (user, password) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) => Ok(Some(Credentials { username, password: Password::new(password) })),
        (Some(_), None) => Err(invalid("password", "is missing for the user (set it, or TEMPER_CASSANDRA_PASSWORD)")),
        (None, Some(_)) => Err(invalid("user", "is missing for the password (set it, or TEMPER_CASSANDRA_USER)")),
    }
}

fn pool_size(per_host: Option<usize>, per_shard: Option<usize>) -> Result<Option<PoolSize>, InvalidSetting> {
    let at_least_one = |key: &'static str, count: usize| {
        NonZeroUsize::new(count).ok_or_else(|| invalid(key, "is 0; it must be at least 1"))
    };
    match (per_host, per_shard) {
        (None, None) => Ok(None),
        (Some(count), None) => Ok(Some(PoolSize::PerHost(at_least_one("max_conns", count)?))),
        (None, Some(count)) => Ok(Some(PoolSize::PerShard(at_least_one("max_conns_per_shard", count)?))),
        (Some(_), Some(_)) => Err(invalid("max_conns", "and max_conns_per_shard are both set; set one")),
    }
}

fn timeout(key: &'static str, text: Option<&str>) -> Result<Option<Duration>, InvalidSetting> {
    let Some(text) = text else { return Ok(None) };
    match temper_bench::parse_duration(text) {
        Ok(timeout) if !timeout.is_zero() => Ok(Some(timeout)),
        Ok(_) => Err(invalid(key, "is 0; it must be longer")),
        Err(problem) => Err(invalid(key, problem)),
    }
}

fn consistency(name: &str) -> Result<Consistency, InvalidSetting> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "EACH_QUORUM" => Consistency::EachQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        _ => return Err(invalid("consistency", format!("`{name}` is not a CQL consistency level"))),
    })
}

fn serial_consistency(name: &str) -> Result<SerialConsistency, InvalidSetting> {
    match name.to_ascii_uppercase().as_str() {
        "SERIAL" => Ok(SerialConsistency::Serial),
        "LOCAL_SERIAL" => Ok(SerialConsistency::LocalSerial),
        _ => Err(invalid("serial_consistency", format!("`{name}` is not SERIAL or LOCAL_SERIAL"))),
    }
}

/// `temper schema`'s flags for reaching the cluster; each overrides the
/// config file's key of the same name (and the environment).
#[derive(clap::Args)]
pub struct CassandraFlags {
    /// `host:port` of a node to reach the cluster through (may repeat)
    /// [default: 127.0.0.1:9042].
    #[arg(long = "contact-point")]
    contact_points: Vec<String>,
    /// The keyspace holding Temper's tables [default: temper].
    #[arg(long)]
    keyspace: Option<String>,
    /// The user to log in as (Cassandra's PasswordAuthenticator).
    #[arg(long)]
    user: Option<String>,
    /// Its password; prefer TEMPER_CASSANDRA_PASSWORD, which no process
    /// listing shows.
    #[arg(long)]
    password: Option<String>,
    /// For each TCP connect, like 5s.
    #[arg(long)]
    connect_timeout: Option<String>,
    /// For each request, like 10s.
    #[arg(long)]
    request_timeout: Option<String>,
    /// Connections to each node.
    #[arg(long)]
    max_conns: Option<usize>,
    /// Connections to each shard of each ScyllaDB node.
    #[arg(long)]
    max_conns_per_shard: Option<usize>,
    #[command(flatten)]
    tls: TlsFlags,
}

/// Any of them turns TLS on.
#[derive(clap::Args)]
struct TlsFlags {
    /// Connect with TLS, trusting the CAs in this PEM file.
    #[arg(long)]
    tls_ca_file: Option<PathBuf>,
    /// A PEM client certificate, for clusters that require one.
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// The client certificate's PEM private key.
    #[arg(long)]
    tls_key_file: Option<PathBuf>,
    /// The name every node's certificate must carry (instead of its IP).
    #[arg(long)]
    tls_server_name: Option<String>,
    /// Accept node certificates of any name (their CA is still checked).
    #[arg(long)]
    tls_disable_host_verification: bool,
}

impl CassandraFlags {
    pub fn apply_to(self, section: &mut CassandraSection) {
        if !self.contact_points.is_empty() {
            section.contact_points = self.contact_points;
        }
        replace(&mut section.keyspace, self.keyspace);
        overlay(&mut section.user, self.user);
        overlay(&mut section.password, self.password);
        overlay(&mut section.connect_timeout, self.connect_timeout);
        overlay(&mut section.request_timeout, self.request_timeout);
        // One pool size at a time: a flag for one replaces the file's other.
        if self.max_conns.is_some() || self.max_conns_per_shard.is_some() {
            section.max_conns = self.max_conns;
            section.max_conns_per_shard = self.max_conns_per_shard;
        }
        self.tls.apply_to(section);
    }
}

impl TlsFlags {
    fn apply_to(self, section: &mut CassandraSection) {
        let any = self.tls_ca_file.is_some()
            || self.tls_cert_file.is_some()
            || self.tls_key_file.is_some()
            || self.tls_server_name.is_some()
            || self.tls_disable_host_verification;
        if !any {
            return;
        }
        let tls = section.tls.get_or_insert_with(|| TlsSection { enable_host_verification: true, ..TlsSection::default() });
        tls.enabled = true;
        overlay(&mut tls.ca_file, self.tls_ca_file);
        overlay(&mut tls.cert_file, self.tls_cert_file);
        overlay(&mut tls.key_file, self.tls_key_file);
        overlay(&mut tls.server_name, self.tls_server_name);
        if self.tls_disable_host_verification {
            tls.enable_host_verification = false;
        }
    }
}

fn overlay<T>(setting: &mut Option<T>, flag: Option<T>) {
    if flag.is_some() {
        *setting = flag;
    }
}

fn replace<T>(setting: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *setting = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn section(yaml: &str) -> Result<CassandraSection, String> {
        serde_norway::from_str(yaml).map_err(|error| error.to_string())
    }

    fn config(yaml: &str) -> Result<CassandraConfig, String> {
        section(yaml)?.into_config().map_err(|error| error.to_string())
    }

    #[test]
    fn credentials_tls_pool_and_timeout_are_read() {
        let config = config(
            "contact_points: [\"10.0.0.5:9042\"]\nuser: temper\npassword: s3cret\nmax_conns: 3\nconnect_timeout: 2s\nrequest_timeout: 4s\n\
             tls:\n  enabled: true\n  ca_file: /etc/ca.pem\n  cert_file: /etc/client.pem\n  key_file: /etc/client-key.pem\n  server_name: db.internal\n",
        )
        .expect("a valid section");
        let credentials = config.credentials.expect("credentials");
        assert_eq!((credentials.username.as_str(), credentials.password), ("temper", Password::new("s3cret")));
        assert!(matches!(config.pool_size, PoolSize::PerHost(count) if count.get() == 3));
        assert_eq!(config.connect_timeout, Duration::from_secs(2));
        assert_eq!(config.request_timeout, Duration::from_secs(4));
        let tls = config.tls.expect("tls");
        assert_eq!(tls.ca_file, PathBuf::from("/etc/ca.pem"));
        assert_eq!(
            tls.client_certificate,
            Some(ClientCertificate { cert_file: "/etc/client.pem".into(), key_file: "/etc/client-key.pem".into() })
        );
        assert_eq!(tls.host_verification, HostVerification::ServerName("db.internal".into()));
    }

    #[test]
    fn what_is_left_out_takes_the_drivers_defaults() {
        let config = config("contact_points: [a]\ntls:\n  enabled: false\n  ca_file: /etc/ca.pem\n").unwrap();
        assert!(config.credentials.is_none() && config.tls.is_none());
        assert!(matches!(config.pool_size, PoolSize::PerShard(count) if count.get() == 1));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        let per_shard = self::config("contact_points: [a]\nmax_conns_per_shard: 2\n").unwrap();
        assert!(matches!(per_shard.pool_size, PoolSize::PerShard(count) if count.get() == 2));
        let tls = self::config("contact_points: [a]\ntls:\n  enabled: true\n  ca_file: ca.pem\n").unwrap().tls.unwrap();
        assert_eq!(tls.host_verification, HostVerification::NodeAddress);
        assert_eq!(tls.client_certificate, None);
    }

    #[test]
    fn unusable_settings_are_refused_by_name() {
        let refusals = [
            ("max_conns: 0\n", "persistence.cassandra.max_conns is 0; it must be at least 1"),
            ("max_conns_per_shard: 0\n", "persistence.cassandra.max_conns_per_shard is 0"),
            ("max_conns: 1\nmax_conns_per_shard: 1\n", "both set"),
            ("connect_timeout: 0s\n", "persistence.cassandra.connect_timeout is 0"),
            ("connect_timeout: soon\n", "`soon` is not a duration"),
            ("request_timeout: 0s\n", "persistence.cassandra.request_timeout is 0"),
            ("connect_timeout: 99999999999999999999999h\n", "too long a duration"),
            ("user: temper\n", "persistence.cassandra.password is missing"),
            ("password: x\n", "persistence.cassandra.user is missing"),
            ("tls:\n  enabled: true\n", "persistence.cassandra.tls.ca_file is missing"),
            ("tls:\n  enabled: true\n  ca_file: a\n  cert_file: c\n", "tls.key_file is missing"),
            ("tls:\n  enabled: true\n  ca_file: a\n  key_file: k\n", "tls.cert_file is missing"),
            (
                "tls:\n  enabled: true\n  ca_file: a\n  enable_host_verification: false\n  server_name: x\n",
                "tls.server_name is never checked",
            ),
            ("consistency: most\n", "`most` is not a CQL consistency level"),
        ];
        for (yaml, expected) in refusals {
            let error = config(&format!("contact_points: [a]\n{yaml}")).err().unwrap_or_else(|| panic!("accepted {yaml:?}"));
            assert!(error.contains(expected), "{yaml:?}: {error}");
        }
        assert!(config("keyspace: k\n").unwrap_err().contains("contact_points is empty"));
    }

    #[test]
    fn unknown_and_mistyped_keys_are_refused() {
        let unknown = section("contact_points: [a]\nusername: x\n").err().unwrap();
        assert!(unknown.contains("unknown field `username`"), "{unknown}");
        let in_tls = section("contact_points: [a]\ntls:\n  enabled: true\n  ca: x\n").err().unwrap();
        assert!(in_tls.contains("unknown field `ca`"), "{in_tls}");
        let no_enabled = section("contact_points: [a]\ntls:\n  ca_file: x\n").err().unwrap();
        assert!(no_enabled.contains("missing field `enabled`"), "{no_enabled}");
        let negative = section("contact_points: [a]\nmax_conns: -1\n").err().unwrap();
        assert!(negative.contains("max_conns"), "{negative}");
    }

    #[test]
    fn the_environment_overrides_credentials_and_places() {
        let mut section = section("contact_points: [a]\nuser: file\npassword: file\n").unwrap();
        section.apply_environment(|name| match name {
            "TEMPER_CASSANDRA_USER" => Some("env-user".into()),
            "TEMPER_CASSANDRA_PASSWORD" => Some("env-password".into()),
            "TEMPER_CASSANDRA_CONTACT_POINTS" => Some("h1:9042, h2:9042".into()),
            "TEMPER_CASSANDRA_KEYSPACE" => Some("ks".into()),
            _ => None,
        });
        let config = section.into_config().unwrap();
        assert_eq!(config.contact_points, vec!["h1:9042", "h2:9042"]);
        assert_eq!(config.keyspace, "ks");
        let credentials = config.credentials.unwrap();
        assert_eq!((credentials.username.as_str(), credentials.password), ("env-user", Password::new("env-password")));
    }

    #[test]
    fn a_password_from_the_environment_completes_a_user_from_the_file() {
        let mut section = section("contact_points: [a]\nuser: temper\n").unwrap();
        section.apply_environment(|name| (name == "TEMPER_CASSANDRA_PASSWORD").then(|| "secret".to_string()));
        assert_eq!(section.into_config().unwrap().credentials.unwrap().password, Password::new("secret"));
    }

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        cassandra: CassandraFlags,
    }

    fn with_flags(yaml: &str, flags: &[&str]) -> Result<CassandraConfig, InvalidSetting> {
        let mut section = section(yaml).unwrap();
        let arguments = std::iter::once("temper").chain(flags.iter().copied());
        Flags::try_parse_from(arguments).unwrap().cassandra.apply_to(&mut section);
        section.into_config()
    }

    #[test]
    fn flags_override_the_file_and_any_tls_flag_turns_tls_on() {
        let config = with_flags(
            "contact_points: [a]\nuser: file\npassword: file\nmax_conns_per_shard: 2\n",
            &["--contact-point", "b:9042", "--password", "flag", "--max-conns", "4", "--tls-ca-file", "ca.pem", "--tls-disable-host-verification"],
        )
        .unwrap();
        assert_eq!(config.contact_points, vec!["b:9042"]);
        assert_eq!(config.credentials.unwrap().password, Password::new("flag"));
        assert!(matches!(config.pool_size, PoolSize::PerHost(count) if count.get() == 4));
        let tls = config.tls.unwrap();
        assert_eq!((tls.ca_file, tls.host_verification), (PathBuf::from("ca.pem"), HostVerification::Off));
        let untouched = with_flags("contact_points: [a]\ntls:\n  enabled: true\n  ca_file: ca.pem\n", &[]).unwrap();
        assert_eq!(untouched.tls.unwrap().host_verification, HostVerification::NodeAddress);
        let zero = with_flags("contact_points: [a]\n", &["--max-conns", "0"]).unwrap_err().to_string();
        assert!(zero.contains("max_conns is 0"), "{zero}");
    }
}
