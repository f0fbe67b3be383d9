//! The adapter's errors and how they map to [`StoreError`].

use scylla::errors::{
    DbError, DeserializationError, ExecutionError, IntoRowsResultError, NewSessionError,
    PrepareError, RequestAttemptError, RowsError,
};

use std::path::{Path, PathBuf};

use super::connect_failure::ConnectFailure;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CassandraError {
    #[error("keyspace name `{0}` must be 1 to 48 letters, digits or underscores")]
    InvalidKeyspace(String),
    // The driver's errors are boxed: they are large, and every result of
    // the adapter would carry their size.
    #[error("connecting to Cassandra at {contact_points}: {failure}")]
    Connect { contact_points: String, failure: ConnectFailure },
    #[error("connecting to Cassandra at {contact_points}: no session within {after:?}")]
    ConnectTimedOut { contact_points: String, after: std::time::Duration },
    #[error("TLS {role} {}: {problem}", path.display())]
    TlsFile { role: &'static str, path: PathBuf, problem: String },
    #[error("TLS settings: {0}")]
    Tls(String),
    #[error("preparing a statement: {0}")]
    Prepare(#[source] Box<PrepareError>),
    #[error("Cassandra request failed: {0}")]
    Execute(#[source] Box<ExecutionError>),
    #[error("Cassandra answered without rows: {0}")]
    NoRows(#[source] Box<IntoRowsResultError>),
    #[error("Cassandra's rows do not have the expected columns: {0}")]
    Columns(#[source] Box<RowsError>),
    #[error("decoding a row: {0}")]
    Deserialize(#[source] Box<DeserializationError>),
    #[error("unexpected answer: {0}")]
    UnexpectedAnswer(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("keyspace `{0}` has no Temper schema: run `temper schema setup`")]
    SchemaNotSetUp(String),
    #[error("keyspace `{keyspace}` has schema version {found}, Temper needs {required}: run `temper schema update`")]
    SchemaTooOld { keyspace: String, found: i32, required: i32 },
    #[error("reading schema files: {0}")]
    SchemaFiles(String),
}

macro_rules! boxed_from {
    ($($driver_error:ident => $variant:ident),* $(,)?) => {
        $(impl From<$driver_error> for CassandraError {
            fn from(error: $driver_error) -> Self {
                CassandraError::$variant(Box::new(error))
            }
        })*
    };
}

boxed_from!(
    PrepareError => Prepare,
    ExecutionError => Execute,
    IntoRowsResultError => NoRows,
    RowsError => Columns,
    DeserializationError => Deserialize,
);

impl CassandraError {
    pub(super) fn connect(contact_points: &[String], error: NewSessionError, tls_configured: bool) -> CassandraError {
        CassandraError::Connect { contact_points: contact_points.join(", "), failure: ConnectFailure::of(error, tls_configured) }
    }

    pub(super) fn tls_file(role: &'static str, path: &Path, problem: String) -> CassandraError {
        CassandraError::TlsFile { role, path: path.to_path_buf(), problem }
    }

    /// Whether no replica answered (down, unreachable, overloaded, too
    /// slow), as opposed to the cluster answering that something is wrong.
    pub fn is_unreachable(&self) -> bool {
        match self {
            CassandraError::Connect { .. } => true,
            CassandraError::Prepare(error) => prepare_unreachable(error),
            CassandraError::Execute(error) => execution_unreachable(error),
            _ => false,
        }
    }
}

fn prepare_unreachable(error: &PrepareError) -> bool {
    match error {
        PrepareError::ConnectionPoolError(_) => true,
        PrepareError::AllAttemptsFailed { first_attempt } => attempt_unreachable(first_attempt),
        _ => false,
    }
}

fn execution_unreachable(error: &ExecutionError) -> bool {
    match error {
        ExecutionError::ConnectionPoolError(_)
        | ExecutionError::RequestTimeout(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::MetadataError(_) => true,
        ExecutionError::PrepareError(error) => prepare_unreachable(error),
        ExecutionError::LastAttemptError(error) => attempt_unreachable(error),
        _ => false,
    }
}

fn attempt_unreachable(error: &RequestAttemptError) -> bool {
    match error {
        RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => true,
        RequestAttemptError::DbError(error, _) => matches!(
            error,
            DbError::Unavailable { .. }
                | DbError::Overloaded
                | DbError::IsBootstrapping
                | DbError::ReadTimeout { .. }
                | DbError::WriteTimeout { .. }
                | DbError::RateLimitReached { .. }
        ),
        _ => false,
    }
}

impl From<CassandraError> for StoreError {
    /// What the data is at fault for is corrupt; a cluster that did not
    /// answer is unreachable; anything else may pass on a retry.
    fn from(error: CassandraError) -> Self {
        match error {
            CassandraError::Deserialize(_) | CassandraError::Corrupt(_) => {
                StoreError::Corrupt(error.to_string())
            }
            unreachable if unreachable.is_unreachable() => StoreError::Unreachable(unreachable.to_string()),
            other => StoreError::Storage(other.to_string()),
        }
    }
}

pub(super) fn decode<M: prost::Message + Default>(
    what: &str,
    bytes: &[u8],
) -> Result<M, CassandraError> {
    M::decode(bytes).map_err(|error| CassandraError::Corrupt(format!("{what}: {error}")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use scylla::errors::ConnectionPoolError;

    use super::*;

    fn store_error(error: ExecutionError) -> StoreError {
        CassandraError::from(error).into()
    }

    fn refused(error: DbError) -> ExecutionError {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(error, "said the node".into()))
    }

    #[test]
    fn no_answer_from_the_cluster_is_unreachable() {
        for error in [
            ExecutionError::ConnectionPoolError(ConnectionPoolError::Initializing),
            ExecutionError::RequestTimeout(Duration::from_secs(30)),
            refused(DbError::Overloaded),
            refused(DbError::IsBootstrapping),
        ] {
            let described = error.to_string();
            match store_error(error) {
                StoreError::Unreachable(message) => assert!(message.contains(&described), "{message}"),
                other => panic!("{described}: expected Unreachable, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_answer_that_refuses_the_request_is_not_unreachable() {
        assert!(matches!(store_error(refused(DbError::Invalid)), StoreError::Storage(_)));
        assert!(matches!(store_error(refused(DbError::SyntaxError)), StoreError::Storage(_)));
    }
}
