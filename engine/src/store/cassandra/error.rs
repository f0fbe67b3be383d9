//! The adapter's errors and how they map to [`StoreError`].

use scylla::errors::{
    DeserializationError, ExecutionError, IntoRowsResultError, NewSessionError, PrepareError,
    RowsError,
};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CassandraError {
    #[error("keyspace name `{0}` must be 1 to 48 letters, digits or underscores")]
    InvalidKeyspace(String),
    #[error("connecting to Cassandra: {0}")]
    Connect(#[from] NewSessionError),
    #[error("preparing a statement: {0}")]
    Prepare(#[from] PrepareError),
    #[error("Cassandra request failed: {0}")]
    Execute(#[from] ExecutionError),
    #[error("Cassandra answered without rows: {0}")]
    NoRows(#[from] IntoRowsResultError),
    #[error("Cassandra's rows do not have the expected columns: {0}")]
    Columns(#[from] RowsError),
    #[error("decoding a row: {0}")]
    Deserialize(#[from] DeserializationError),
    #[error("unexpected answer: {0}")]
    UnexpectedAnswer(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
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
