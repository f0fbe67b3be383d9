//! How Temper reaches the cluster: contact points, credentials, TLS, the
//! connection pool and the connect timeout. [`open_session`] is the one
//! place a driver session is built, for the store and the schema tool alike.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use tracing::instrument::WithSubscriber;

use super::{CassandraConfig, CassandraError, tls};

/// A login for Cassandra's `PasswordAuthenticator` (the driver's plain-text
/// authenticator, which ScyllaDB's password authenticator accepts too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Password,
}

/// A password that never shows in `Debug` output, so configs can be logged
/// and printed in panics without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }

    /// Only for handing it to the driver.
    fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

/// TLS to every node: the server's certificate must chain to `ca_file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM certificates of the CAs trusted to sign the nodes' certificates.
    pub ca_file: PathBuf,
    /// For clusters that require client certificates (mutual TLS).
    pub client_certificate: Option<ClientCertificate>,
    pub host_verification: HostVerification,
}

/// A PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Which name a node's certificate must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostVerification {
    /// The node's IP address: the driver connects to nodes by the addresses
    /// the cluster reports, so that is the only name it knows them by.
    NodeAddress,
    /// One name every node's certificate carries (a DNS name or an IP).
    ServerName(String),
    /// Any name; the chain to the CA is still verified.
    Off,
}

/// The driver's default.
pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A third of the driver's 30 s: a request Cassandra has not answered in
/// 10 s (its own write timeout is 2 s, its read timeout 5 s) is not coming,
/// and the client waiting behind it should hear UNAVAILABLE sooner.
pub(super) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A session to the cluster as configured. Setting up a session (each
/// contact point tried in turn, then TLS, authentication and the cluster's
/// metadata) is bounded too, so a node that accepts connections but never
/// answers cannot hang the caller.
pub async fn open_session(config: &CassandraConfig) -> Result<Session, CassandraError> {
    let limit = session_setup_limit(config);
    match tokio::time::timeout(limit, quietly_unless_debugging(session_builder(config)?.build())).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(error)) => Err(CassandraError::connect(&config.contact_points, error, config.tls.is_some())),
        Err(_) => Err(CassandraError::ConnectTimedOut { contact_points: config.contact_points.join(", "), after: limit }),
    }
}

fn session_builder(config: &CassandraConfig) -> Result<SessionBuilder, CassandraError> {
    let requests = ExecutionProfile::builder().request_timeout(Some(config.request_timeout)).build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&config.contact_points)
        .connection_timeout(config.connect_timeout)
        .default_execution_profile_handle(requests.into_handle())
        .pool_size(config.pool_size);
    if let Some(credentials) = &config.credentials {
        builder = builder.user(&credentials.username, credentials.password.reveal());
    }
    if let Some(options) = &config.tls {
        builder = builder.tls_context(Some(tls::client_config(options)?));
    }
    Ok(builder)
}

/// The driver logs each failed attempt at warn and error level, and the
/// error returned says the same, so an operator would see a failed start
/// told three times. Its session's own tasks, spawned here, still log.
async fn quietly_unless_debugging<T>(setup: impl Future<Output = T>) -> T {
    if tracing::enabled!(target: "scylla", tracing::Level::DEBUG) {
        setup.await
    } else {
        setup.with_subscriber(tracing::subscriber::NoSubscriber::default()).await
    }
}

/// A connect timeout for each contact point (the driver tries them one
/// after another) and two more for what follows the TCP connect.
fn session_setup_limit(config: &CassandraConfig) -> Duration {
    let attempts = u32::try_from(config.contact_points.len()).unwrap_or(u32::MAX).saturating_add(2);
    config.connect_timeout.saturating_mul(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let config = CassandraConfig {
            credentials: Some(Credentials { username: "temper".into(), password: Password::new("hunter2") }),
            ..CassandraConfig::default()
        };
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("temper") && shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn session_setup_is_bounded_by_the_connect_timeout_per_contact_point() {
        let config = CassandraConfig {
            contact_points: vec!["a:9042".into(), "b:9042".into()],
            connect_timeout: Duration::from_secs(3),
            ..CassandraConfig::default()
        };
        assert_eq!(session_setup_limit(&config), Duration::from_secs(12));
    }
}
