//! The adapter's errors and how they map to [`StoreError`].

use scylla::errors::{
    DeserializationError, ExecutionError, IntoRowsResultError, NewSessionError, PrepareError,
    RowsError,
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
}

impl From<CassandraError> for StoreError {
    /// What the data is at fault for is corrupt; everything else (an
    /// unreachable or overloaded cluster, a timeout) may pass on a retry.
    fn from(error: CassandraError) -> Self {
        match error {
            CassandraError::Deserialize(_) | CassandraError::Corrupt(_) => {
                StoreError::Corrupt(error.to_string())
            }
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
