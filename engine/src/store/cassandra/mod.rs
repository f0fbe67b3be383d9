//! The store in Cassandra or ScyllaDB, for horizontally scaled deployments.
//!
//! The tables (CQL in `schema/cassandra/v1/`, `v2/`, `v3/`) and how they are used:
//! - `shard`: one partition per shard holding everything a commit touches:
//!   the shard row as static columns (`epoch`, `applied_offset`,
//!   `next_outbox_seq`, `owner`), and rows by kind (mutable state, current-run
//!   pointer, timer, outbox record; see `keys`) whose blob keys sort the way
//!   the traits read them. A commit is one single-partition
//!   conditional batch (`IF epoch = ?`), see `shard.rs`; timers and the
//!   outbox are slices of the partition (`timers.rs`, `outbox.rs`).
//! - `history_event`: a run's events in partitions of 1,000 consecutive
//!   event ids (`history::SEGMENT`), written idempotently before the batch that references them.
//! - `namespace` (one partition, by name) and `namespace_by_id`.
//! - `consumer_offset` and `meta` (the shard count).
//! - `member`: heartbeat rows of the cluster's members, by role (`members.rs`).
//!
//! Every statement is prepared once at [`CassandraStore::connect`]; writes and
//! reads run at the configured consistency (LOCAL_QUORUM by default),
//! conditions at the serial one (LOCAL_SERIAL). The driver routes prepared
//! statements to a replica of their partition (token-aware).

mod connect_failure;
mod connection;
mod consumer_offsets;
mod error;
mod executions;
mod history;
mod history_deletions;
pub(crate) mod keys;
mod members;
mod namespaces;
mod outbox;
mod schema;
mod shard;
mod shard_rows;
mod timers;
mod unlogged;
mod tls;

use std::time::Duration;

use scylla::client::PoolSize;
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::response::query_result::QueryResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};

pub use connection::{ClientCertificate, Credentials, HostVerification, Password, TlsOptions, open_session};
pub use connect_failure::ConnectFailure;
pub use error::CassandraError;
pub use schema::{
    REQUIRED_VERSION, SchemaVersion, builtin_versions, create_schema, current_version, setup_schema, update_schema, versions_in,
};

/// Where the store lives, how to reach it, and how carefully it reads and
/// writes.
#[derive(Clone, Debug)]
pub struct CassandraConfig {
    /// `host:port` of nodes to learn the cluster from.
    pub contact_points: Vec<String>,
    /// Letters, digits and underscores: it is spliced into every statement.
    pub keyspace: String,
    /// A CQL replication map, used when the keyspace is created.
    pub replication: String,
    pub consistency: Consistency,
    /// For conditional writes (the commit's epoch check, unique names).
    pub serial_consistency: SerialConsistency,
    /// None for a cluster that lets anyone in (`AllowAllAuthenticator`).
    pub credentials: Option<Credentials>,
    /// None for plain-text connections.
    pub tls: Option<TlsOptions>,
    /// Connections to each node, or to each shard of a ScyllaDB node.
    pub pool_size: PoolSize,
    /// For each TCP connect; see [`open_session`] for the whole setup.
    pub connect_timeout: Duration,
    /// For each request: how long a read or write may go unanswered (a
    /// silent network partition) before it fails as unreachable.
    pub request_timeout: Duration,
}

impl Default for CassandraConfig {
    fn default() -> Self {
        CassandraConfig {
            contact_points: vec!["127.0.0.1:9042".to_string()],
            keyspace: "temper".to_string(),
            replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}".to_string(),
            consistency: Consistency::LocalQuorum,
            serial_consistency: SerialConsistency::LocalSerial,
            credentials: None,
            tls: None,
            pool_size: PoolSize::default(),
            connect_timeout: connection::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: connection::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl CassandraConfig {
    fn checked_keyspace(&self) -> Result<&str, CassandraError> {
        let valid = !self.keyspace.is_empty()
            && self.keyspace.len() <= 48
            && self
                .keyspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(&self.keyspace)
        } else {
            Err(CassandraError::InvalidKeyspace(self.keyspace.clone()))
        }
    }
}

/// A [`super::Store`] kept in a Cassandra or ScyllaDB keyspace.
pub struct CassandraStore {
    session: Session,
    statements: Statements,
    config: CassandraConfig,
    /// Histories this process committed, written through after each commit
    /// whose condition held, so polls rarely read history from the cluster.
    recent_history: crate::store::history_cache::HistoryCache,
    /// Conditional writes sent; the driver counts every request but cannot
    /// tell these apart.
    conditional_writes: std::sync::atomic::AtomicU64,
    finished_history_deletions: history_deletions::FinishedDeletions,
}

/// Every prepared statement, per table.
struct Statements {
    shard: shard::ShardStatements,
    history: history::HistoryStatements,
    rows: shard_rows::RowStatements,
    namespaces: namespaces::NamespaceStatements,
    consumer_offsets: consumer_offsets::ConsumerOffsetStatements,
    members: members::MemberStatements,
}

impl CassandraStore {
    /// Connects to a keyspace whose schema is at the version this build needs
    /// (see [`setup_schema`]) and prepares every statement.
    pub async fn connect(config: &CassandraConfig) -> Result<CassandraStore, CassandraError> {
        let session = open_session(config).await?;
        schema::check_version(&session, config.checked_keyspace()?).await?;
        let preparer = Preparer {
            session: &session,
            config,
            keyspace: config.checked_keyspace()?,
        };
        let statements = Statements {
            shard: shard::ShardStatements::prepare(&preparer).await?,
            history: history::HistoryStatements::prepare(&preparer).await?,
            rows: shard_rows::RowStatements::prepare(&preparer).await?,
            namespaces: namespaces::NamespaceStatements::prepare(&preparer).await?,
            consumer_offsets: consumer_offsets::ConsumerOffsetStatements::prepare(&preparer)
                .await?,
            members: members::MemberStatements::prepare(&preparer).await?,
        };
        Ok(CassandraStore {
            session,
            statements,
            config: config.clone(),
            recent_history: Default::default(),
            conditional_writes: Default::default(),
            finished_history_deletions: Default::default(),
        })
    }

    async fn execute(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<QueryResult, CassandraError> {
        Ok(self.session.execute_unpaged(statement, values).await?)
    }

    /// Every row a statement returns (statements here bound what they read).
    async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>, CassandraError>
    where
        R: for<'frame> DeserializeRow<'frame, 'frame>,
    {
        let result = self.execute(statement, values).await?.into_rows_result()?;
        let rows = result.rows::<R>()?.collect::<Result<Vec<R>, _>>()?;
        Ok(rows)
    }

    async fn first_row<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Option<R>, CassandraError>
    where
        R: for<'frame> DeserializeRow<'frame, 'frame>,
    {
        Ok(self.rows(statement, values).await?.into_iter().next())
    }

    /// Runs a conditional statement and tells whether its condition held.
    async fn applied(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<bool, CassandraError> {
        self.count_conditional_write();
        was_applied(self.execute(statement, values).await?)
    }

    fn count_conditional_write(&self) {
        self.conditional_writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl crate::store::TrafficReport for CassandraStore {
    fn traffic(&self) -> Option<crate::store::StoreTraffic> {
        let driver = self.session.get_metrics();
        Some(crate::store::StoreTraffic {
            requests: driver.get_requests_unpaged_num()
                + driver.get_requests_manually_paged_num()
                + driver.get_requests_automatically_paged_num(),
            conditional_writes: self
                .conditional_writes
                .load(std::sync::atomic::Ordering::Relaxed),
            retries: driver.get_retries_num(),
            errors: driver.get_errors_unpaged_num()
                + driver.get_errors_manually_paged_num()
                + driver.get_errors_automatically_paged_num(),
        })
    }
}

/// A conditional statement's or batch's answer starts with `[applied]`.
fn was_applied(result: QueryResult) -> Result<bool, CassandraError> {
    let rows = result.into_rows_result()?;
    let first: Option<Row> = rows.rows::<Row>()?.next().transpose()?;
    match first.and_then(|row| row.columns.into_iter().next().flatten()) {
        Some(CqlValue::Boolean(applied)) => Ok(applied),
        other => Err(CassandraError::UnexpectedAnswer(format!(
            "a conditional write answered {other:?}"
        ))),
    }
}

/// Prepares statements written against `{ks}`, the configured keyspace.
struct Preparer<'a> {
    session: &'a Session,
    config: &'a CassandraConfig,
    keyspace: &'a str,
}

impl Preparer<'_> {
    /// A read, or a write whose repetition changes nothing: the driver may
    /// retry it on a timeout or on another node.
    async fn prepare(&self, cql: &str) -> Result<PreparedStatement, CassandraError> {
        let mut statement = self
            .session
            .prepare(cql.replace("{ks}", self.keyspace))
            .await?;
        statement.set_consistency(self.config.consistency);
        statement.set_serial_consistency(Some(self.config.serial_consistency));
        statement.set_is_idempotent(true);
        Ok(statement)
    }

    /// A conditional write: the driver does not retry it on its own (a retry
    /// may answer "not applied" for what the first attempt applied); the
    /// engine decides.
    async fn prepare_conditional(&self, cql: &str) -> Result<PreparedStatement, CassandraError> {
        let mut statement = self.prepare(cql).await?;
        statement.set_is_idempotent(false);
        Ok(statement)
    }

    /// A read that sees every conditional write decided so far.
    async fn prepare_serial_read(&self, cql: &str) -> Result<PreparedStatement, CassandraError> {
        let mut statement = self.prepare(cql).await?;
        statement.set_consistency(match self.config.serial_consistency {
            SerialConsistency::Serial => Consistency::Serial,
            SerialConsistency::LocalSerial => Consistency::LocalSerial,
        });
        Ok(statement)
    }
}

/// CQL's `LIMIT ?` is an int.
fn cql_limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}
