//! Why a session could not be set up, in the operator's words. The driver
//! wraps the cause of a failed connect in several layers of its own
//! (metadata fetch, control connection pool, setup request) and speaks of
//! its API ("SessionBuilder::user"); a bad password, a CA that did not sign
//! the node's certificate, or a TLS-only port reached in plain text each
//! deserve a line that says so.

use scylla::errors::{
    BrokenConnectionError, BrokenConnectionErrorKind, ConnectionError, ConnectionPoolError,
    ConnectionSetupRequestErrorKind, DbError, FrameHeaderParseError, MetadataError, NewSessionError,
};

#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    #[error("authentication failed: {0}")]
    Authentication(String),
    #[error("the cluster requires authentication: set a user and password")]
    CredentialsRequired,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("the node closed the connection during the CQL handshake (does it accept only TLS?): {0}")]
    ClosedInPlainText(String),
    #[error(
        "the node closed the connection after the TLS handshake (does it require a client certificate signed by a CA it trusts?): {0}"
    )]
    ClosedAfterTls(String),
    // Some of the driver's messages span lines; an operator's error is one.
    #[error("{}", one_line(&.0.to_string()))]
    Driver(Box<NewSessionError>),
}

impl ConnectFailure {
    pub(super) fn of(error: NewSessionError, tls_configured: bool) -> ConnectFailure {
        last_connection_error(&error)
            .and_then(|cause| explained(cause, tls_configured))
            .unwrap_or_else(|| ConnectFailure::Driver(Box::new(error)))
    }
}

/// The error of the last attempt to reach a node, if that is what failed.
fn last_connection_error(error: &NewSessionError) -> Option<&ConnectionError> {
    match error {
        NewSessionError::MetadataError(MetadataError::ConnectionPoolError(ConnectionPoolError::Broken {
            last_connection_error,
        })) => Some(last_connection_error),
        _ => None,
    }
}

fn explained(cause: &ConnectionError, tls_configured: bool) -> Option<ConnectFailure> {
    match cause {
        ConnectionError::IoError(io) => tls_failure(io),
        ConnectionError::ConnectionSetupRequestError(setup) => match setup.get_error() {
            ConnectionSetupRequestErrorKind::DbError(DbError::AuthenticationError, message) => {
                Some(ConnectFailure::Authentication(message.clone()))
            }
            ConnectionSetupRequestErrorKind::MissingAuthentication => Some(ConnectFailure::CredentialsRequired),
            ConnectionSetupRequestErrorKind::BrokenConnection(broken) => broken_in_setup(broken, tls_configured),
            _ => None,
        },
        _ => None,
    }
}

/// A node that wants TLS resets a plain-text connection. One that rejects
/// our client certificate sends an alert and closes: the alert surfaces as
/// a failed read, unless the driver notices the closed socket first.
fn broken_in_setup(broken: &BrokenConnectionError, tls_configured: bool) -> Option<ConnectFailure> {
    if let Some(failure) = failed_read(broken).and_then(tls_failure) {
        return Some(failure);
    }
    let reason = one_line(&broken.to_string());
    Some(if tls_configured { ConnectFailure::ClosedAfterTls(reason) } else { ConnectFailure::ClosedInPlainText(reason) })
}

fn failed_read(broken: &BrokenConnectionError) -> Option<&std::io::Error> {
    match broken.downcast_ref::<BrokenConnectionErrorKind>() {
        Some(BrokenConnectionErrorKind::FrameHeaderParseError(FrameHeaderParseError::HeaderIoError(io))) => Some(io),
        _ => None,
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// tokio-rustls reports rustls's errors (and the peer's alerts) inside I/O
/// errors.
fn tls_failure(io: &std::io::Error) -> Option<ConnectFailure> {
    io.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(|error| ConnectFailure::Tls(error.to_string()))
}
