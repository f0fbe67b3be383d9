//! Wires every role into one process on the embedded store: what
//! `temper server start-dev` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use temper_engine::embedded_db::EmbeddedDb;
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::kafka::{KafkaLog, KafkaLogConfig};
use temper_engine::log::{Log, LogLayout};
use temper_engine::notify::HistoryNotifier;
use temper_engine::replies::LocalReplies;
use temper_engine::store::Store;
use temper_engine::store::cassandra::{CassandraConfig, CassandraStore};
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::state_machine::RunLimits;
use temper_engine::{Engine, EngineConfig};
use temper_proto::service::operatorservice::v1::operator_service_server::OperatorServiceServer;
use temper_proto::service::workflowservice::v1::workflow_service_server::WorkflowServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bus::CommandBus;
use crate::gateway::{Gateway, Limits};
use crate::matching::{Matching, MatchingCounts};
use crate::namespaces::NamespaceRegistry;
use crate::service::{Frontend, Operator};

/// Largest gRPC message sent: a history page or a workflow task can be larger
/// than any request (requests are bounded by `Limits::max_request_bytes`, and
/// each payload in them by `max_payload_bytes`, so an oversized payload gets
/// a clear error rather than a transport failure).
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;
/// Retention of namespaces the dev server creates, as in Temporal's dev server.
const DEV_RETENTION_DAYS: i64 = 1;

#[derive(Clone, Debug)]
pub struct DevServerConfig {
    pub address: SocketAddr,
    /// Data directory; a fresh temporary one when absent.
    pub db_path: Option<PathBuf>,
    pub namespaces: Vec<String>,
    pub shards: u32,
    pub limits: Limits,
    /// How large one run may grow.
    pub run_limits: RunLimits,
    /// How often the embedded database reclaims space freed by deletions.
    pub compaction_interval: std::time::Duration,
    /// Where workflow state lives; the logs stay in the data directory.
    pub store: StoreSelection,
    pub log: LogSelection,
}

/// Which Log adapter carries commands, tasks and visibility records.
#[derive(Clone, Debug, Default)]
pub enum LogSelection {
    /// The embedded database's logs, in the data directory.
    #[default]
    Embedded,
    /// Topics in a Kafka cluster, created on first use.
    Kafka(KafkaLogConfig),
}

/// Which Store adapter holds workflow state.
#[derive(Clone, Debug, Default)]
pub enum StoreSelection {
    /// The embedded database, beside the logs.
    #[default]
    Embedded,
    /// A Cassandra or ScyllaDB cluster whose schema is set up.
    Cassandra(CassandraConfig),
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("opening the data directory failed: {0}")]
    Storage(String),
    #[error("the store is not usable: {0}")]
    Store(String),
    #[error("the log is not usable: {0}")]
    Log(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Runs until `shutdown` resolves, then stops every role and flushes the store.
pub async fn run_dev_server(config: DevServerConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServerError> {
    DevServer::start(config).await?.serve(shutdown).await
}

/// A dev server whose roles run and whose port is bound, before it serves.
pub struct DevServer {
    listener: TcpListener,
    address: SocketAddr,
    gateway: Arc<Gateway>,
    engine: Engine,
    db: Arc<EmbeddedDb>,
    stop_roles: watch::Sender<bool>,
    projection: JoinHandle<()>,
    reclaiming: JoinHandle<()>,
}

impl DevServer {
    /// Opens the data directory, starts every role and binds the port.
    pub async fn start(config: DevServerConfig) -> Result<DevServer, ServerError> {
        let db = match &config.db_path {
            Some(path) => EmbeddedDb::open(path),
            None => EmbeddedDb::open_temporary(),
        }
        .map_err(|e| ServerError::Storage(e.to_string()))?;
        let layout = LogLayout { commands: config.shards, tasks: config.shards, visibility: config.shards };
        let log: Arc<dyn Log> = match &config.log {
            LogSelection::Embedded => Arc::new(EmbeddedLog::open(db.clone(), layout).map_err(|e| ServerError::Storage(e.to_string()))?),
            LogSelection::Kafka(kafka) => {
                Arc::new(KafkaLog::open(kafka.clone(), layout).await.map_err(|e| ServerError::Log(e.to_string()))?)
            }
        };
        let store: Arc<dyn Store> = match &config.store {
            StoreSelection::Embedded => Arc::new(EmbeddedStore::new(db.clone())),
            StoreSelection::Cassandra(cassandra) => Arc::new(
                CassandraStore::connect(cassandra).await.map_err(|e| ServerError::Store(e.to_string()))?,
            ),
        };
        let replies = Arc::new(LocalReplies::new(incarnation()));
        let notifier = Arc::new(HistoryNotifier::default());
        let mut engine_config = EngineConfig { shard_count: config.shards, ..EngineConfig::default() };
        engine_config.state_machine.max_payload_bytes = config.limits.max_payload_bytes;
        engine_config.state_machine.max_id_length = config.limits.max_id_length;
        engine_config.state_machine.max_failure_depth = config.limits.max_failure_depth;
        engine_config.state_machine.run_limits = config.run_limits.clone();
        let engine = Engine::start(engine_config, log.clone(), store.clone(), replies.clone(), notifier.clone())
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?;
        let (stop_roles, roles_stopped) = watch::channel(false);
        let matching =
            Matching::start(log.clone(), store.clone(), roles_stopped.clone()).await.map_err(|e| ServerError::Storage(e.to_string()))?;
        let reclaiming = tokio::spawn(reclaim_space_periodically(db.clone(), config.compaction_interval, roles_stopped.clone()));
        let projection = tokio::spawn(temper_projections::run(log.clone(), store.clone(), roles_stopped));

        let gateway = Arc::new(Gateway {
            store: store.clone(),
            bus: CommandBus::new(log.clone(), replies, engine.health()),
            notifier,
            namespaces: NamespaceRegistry::new(store.clone()),
            matching,
            limits: config.limits.clone(),
            shard_count: config.shards,
            committed: Some(engine.committed_states()),
        });
        let mut namespaces = vec!["default".to_string()];
        namespaces.extend(config.namespaces.iter().cloned());
        for namespace in &namespaces {
            gateway.namespaces.ensure(namespace, DEV_RETENTION_DAYS).await.map_err(|e| ServerError::Storage(e.to_string()))?;
        }

        // Bound last: accepting a connection means every role is ready.
        let listener = TcpListener::bind(config.address).await.map_err(|source| ServerError::Bind { address: config.address, source })?;
        let address = listener.local_addr().map_err(|source| ServerError::Bind { address: config.address, source })?;
        let data = config.db_path.as_ref().map_or("a temporary directory (lost on exit)".to_string(), |p| p.display().to_string());
        println!("Temper {} ready: Temporal gRPC API on {address}, namespaces {}, data in {data}", env!("CARGO_PKG_VERSION"), namespaces.join(", "));
        Ok(DevServer { listener, address, gateway, engine, db, stop_roles, projection, reclaiming })
    }

    /// The address the gRPC API listens on (the bound port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What the server holds for calls in flight, readable while it serves.
    pub fn held(&self) -> Held {
        Held { gateway: self.gateway.clone() }
    }

    /// Serves until `shutdown` resolves, then stops every role and flushes the store.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServerError> {
        let max_request_bytes = self.gateway.limits.max_request_bytes;
        let reporting = tokio::spawn(report_store_traffic_on_request(self.gateway.store.clone()));
        let workflow_service = WorkflowServiceServer::from_arc(Arc::new(Frontend { gateway: self.gateway }))
            .max_decoding_message_size(max_request_bytes)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
            // SDKs compress requests; replies stay uncompressed (cheaper on CPU).
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        // What `temporal operator cluster health` and load balancers ask.
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter.set_serving::<WorkflowServiceServer<Frontend>>().await;
        let served = tonic::transport::Server::builder()
            .add_service(health_service.accept_compressed(tonic::codec::CompressionEncoding::Gzip))
            .add_service(workflow_service)
            .add_service(OperatorServiceServer::new(Operator).accept_compressed(tonic::codec::CompressionEncoding::Gzip))
            .serve_with_incoming_shutdown(incoming(self.listener), shutdown)
            .await;

        reporting.abort();
        let _ = self.stop_roles.send(true);
        self.engine.shutdown().await;
        let _ = self.projection.await;
        let _ = self.reclaiming.await;
        self.db.shutdown();
        served.map_err(ServerError::from)
    }
}

/// Prints what the store asked of its database so far each time the process
/// gets SIGUSR1: `tests/bench/compare.sh` takes the difference across a
/// benchmark to report round trips and conditional writes per workflow.
async fn report_store_traffic_on_request(store: Arc<dyn Store>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut requests) = signal(SignalKind::user_defined1()) else { return };
        while requests.recv().await.is_some() {
            match store.traffic() {
                Some(traffic) => println!(
                    "store traffic: requests={} conditional_writes={} retries={} errors={}",
                    traffic.requests, traffic.conditional_writes, traffic.retries, traffic.errors
                ),
                None => println!("store traffic: none (the store is in this process)"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = store;
}

/// Counts of what the server holds on behalf of calls in flight (waiting
/// polls, queries, history long polls), so tests (and later metrics) can
/// check that calls clients abandon leave nothing behind.
#[derive(Clone)]
pub struct Held {
    gateway: Arc<Gateway>,
}

impl Held {
    pub fn matching(&self) -> MatchingCounts {
        self.gateway.matching.counts()
    }

    /// Readers waiting for a run's history to grow.
    pub fn history_watchers(&self) -> usize {
        self.gateway.notifier.watchers()
    }

    /// Runs with a history watcher entry.
    pub fn watched_runs(&self) -> usize {
        self.gateway.notifier.watched_runs()
    }
}

/// Gives back the space of trimmed log records and expired runs (see
/// [`EmbeddedDb::reclaim_space`]), off the async threads.
async fn reclaim_space_periodically(db: Arc<EmbeddedDb>, interval: std::time::Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.reclaim_space()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "reclaiming disk space failed; retrying later"),
            Err(error) => tracing::error!(%error, "reclaiming disk space panicked"),
        }
    }
}

/// Accepted connections without Nagle's algorithm: a reply is written in
/// several pieces (headers, message, trailers), and delaying the last one
/// until the client acknowledges the first costs tens of milliseconds a call.
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Distinguishes this process from earlier ones, so replies to commands an
/// earlier process appended are not mistaken for this one's.
fn incarnation() -> u64 {
    let id = uuid::Uuid::new_v4();
    u64::from_le_bytes(id.as_bytes()[..8].try_into().expect("16 bytes"))
}
