//! Wires a process's roles together: every role on the embedded store (what
//! `temper server start-dev` runs), or some of them as one member of a
//! cluster sharing a Cassandra store and a Kafka log (see `cluster`).

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
use crate::cluster::{Memberships, Readiness, follow_engines, gateway_addresses, owned_by, projections_addresses, task_queue_owners};
use crate::cluster_service::{ClusterService, cluster_service};
use temper_engine::membership::MemberRole;
use temper_proto::records::cluster_server::ClusterServer;
use crate::matching::routing::QueueRouter;
use crate::roles::{ClusterSettings, Roles};
use temper_engine::health::ShardHealth;
use crate::matching::metrics::sample_queue_lengths;
use crate::telemetry::metrics_endpoint::MetricsEndpoint;
use crate::telemetry::rpc_metrics::RpcMetricsLayer;
pub use crate::telemetry::traces::TracingSettings;
use temper_engine::replies::RemoteReplies;
use crate::gateway::{Gateway, Limits};
use crate::matching::{Matching, MatchingCounts};
use crate::namespaces::NamespaceRegistry;
use crate::service::{Frontend, Operator, move_sticky_tasks_to_normal_queues, reclaim_deleted_namespaces};
use temper_projections::Trimming;
use temper_projections::index::VisibilityIndex;
use temper_projections::reader::{LocalReader, RemoteReader, VisibilityReader, VisibilityService};
use temper_proto::records::visibility_server::VisibilityServer;

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
    /// The roles this process runs.
    pub roles: Roles,
    /// How this process finds the others when it shares the store and log.
    pub cluster: ClusterSettings,
    /// Where `/metrics` is served.
    pub metrics: MetricsSettings,
    /// Where traces go (read by the process's entry point, which installs
    /// the exporter once for the process).
    pub tracing: TracingSettings,
}

/// The Prometheus endpoint's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSettings {
    /// `None` turns the endpoint off.
    pub address: Option<SocketAddr>,
    /// Whether a port that cannot be bound stops the server (a production
    /// configuration) or only warns (`start-dev`, whose default port a
    /// Prometheus on the same machine may hold).
    pub required: bool,
}

impl MetricsSettings {
    pub const DEFAULT_PORT: u16 = 9090;

    pub fn off() -> MetricsSettings {
        MetricsSettings { address: None, required: false }
    }
}

impl DevServerConfig {
    /// Every role on the embedded store in a temporary directory, with
    /// Temporal's default limits: what `start-dev` runs without flags.
    pub fn new(address: SocketAddr) -> DevServerConfig {
        DevServerConfig {
            address,
            db_path: None,
            namespaces: Vec::new(),
            shards: 4,
            limits: Limits::default(),
            run_limits: RunLimits::default(),
            compaction_interval: std::time::Duration::from_secs(60),
            store: StoreSelection::Embedded,
            log: LogSelection::Embedded,
            roles: Roles::ALL,
            cluster: ClusterSettings::default(),
            metrics: MetricsSettings::off(),
            tracing: TracingSettings::off(),
        }
    }
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
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Runs until `shutdown` resolves, then stops every role and flushes the store.
pub async fn run_dev_server(config: DevServerConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServerError> {
    DevServer::start(config).await?.serve(shutdown).await
}

/// A server whose roles run and whose port is bound, before it serves.
pub struct DevServer {
    listener: TcpListener,
    address: SocketAddr,
    gateway: Option<Arc<Gateway>>,
    cluster_service: Option<ClusterServer<ClusterService>>,
    /// `temper.v1.Visibility`, served by a projections process of a cluster.
    visibility_service: Option<VisibilityServer<VisibilityService>>,
    /// The visibility index's directory when the server is temporary.
    _visibility_dir: Option<tempfile::TempDir>,
    engine: Option<Engine>,
    store: Arc<dyn Store>,
    db: Option<Arc<EmbeddedDb>>,
    memberships: Option<Arc<Memberships>>,
    readiness: Readiness,
    stop_roles: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl DevServer {
    /// Opens the store and log, starts this process's roles and binds the port.
    pub async fn start(config: DevServerConfig) -> Result<DevServer, ServerError> {
        let topology = Topology::of(&config)?;
        let db = open_embedded_db(&config)?;
        let layout = LogLayout { commands: config.shards, tasks: config.shards, visibility: config.shards };
        let log = open_log(&config, db.as_ref(), layout).await?;
        let store = open_store(&config, db.as_ref()).await?;
        store.init_shards(config.shards).await.map_err(|e| ServerError::Store(e.to_string()))?;
        let (stop_roles, roles_stopped) = watch::channel(false);
        let mut background = Vec::new();
        let readiness = Readiness::new(config.roles);

        let incarnation = incarnation();
        let memberships = match &topology {
            Topology::Cluster { advertise } => Some(
                Arc::new(
                    crate::cluster::join(store.clone(), config.roles, advertise, &config.cluster)
                        .await
                        .map_err(|e| ServerError::Store(format!("joining the cluster failed: {e}")))?,
                ),
            ),
            Topology::SingleProcess => None,
        };
        let own_address = match &topology {
            Topology::Cluster { advertise } => advertise.clone(),
            Topology::SingleProcess => String::new(),
        };
        let local_replies = Arc::new(LocalReplies::with_address(incarnation, own_address.clone()));
        let notifier = Arc::new(HistoryNotifier::default());

        let engine = if config.roles.engine {
            let engine_config = engine_config(&config);
            let engine = match memberships.as_ref().and_then(|memberships| memberships.of(MemberRole::Engine)) {
                Some(membership) => {
                    let gateways = gateway_addresses(&membership, &mut background, roles_stopped.clone());
                    let replies = Arc::new(RemoteReplies::new(local_replies.clone(), gateways));
                    Engine::start_member(engine_config, log.clone(), store.clone(), replies, notifier.clone(), membership).await
                }
                None => Engine::start(engine_config, log.clone(), store.clone(), local_replies.clone(), notifier.clone()).await,
            }
            .map_err(|e| ServerError::Storage(e.to_string()))?;
            background.push(tokio::spawn(readiness.clone().follow_engine(engine.assigned_shards(), engine.owned_shards())));
            Some(engine)
        } else {
            None
        };

        let mut projection = if config.roles.projections { Some(Projection::open(&config, db.as_ref(), log.clone())?) } else { None };
        let visibility_dir = projection.as_mut().and_then(|projection| projection.temporary_dir.take());
        let visibility: Option<Arc<dyn VisibilityReader>> = match (&projection, &memberships) {
            (Some(projection), _) => Some(projection.reader()),
            (None, Some(memberships)) => memberships.of(MemberRole::Gateway).map(|membership| {
                let projections = projections_addresses(&membership, &mut background, roles_stopped.clone());
                Arc::new(RemoteReader::new(projections)) as Arc<dyn VisibilityReader>
            }),
            (None, None) => None,
        };

        let (gateway, cluster_service) = if config.roles.gateway {
            let (matching, router) = match memberships.as_ref().and_then(|memberships| memberships.of(MemberRole::Gateway)) {
                Some(membership) => {
                    let owners = task_queue_owners(&membership, layout.tasks, &mut background, roles_stopped.clone());
                    let owned = owned_by(owners.clone(), own_address.clone(), &mut background, roles_stopped.clone());
                    let matching = Matching::start_owning(log.clone(), store.clone(), roles_stopped.clone(), owned);
                    (matching, Some(Arc::new(QueueRouter::new(own_address.clone(), layout.tasks, owners))))
                }
                None => {
                    let matching =
                        Matching::start(log.clone(), store.clone(), roles_stopped.clone()).await.map_err(|e| ServerError::Storage(e.to_string()))?;
                    (matching, None)
                }
            };
            // In one process the engine's view of its shards and its caches
            // are the truth; across processes the gateway asks the store.
            let single = memberships.is_none();
            let local_engine = engine.as_ref().filter(|_| single);
            let health = match local_engine {
                Some(engine) => engine.health(),
                None => {
                    let health = Arc::new(ShardHealth::new(config.shards));
                    if let Some(membership) = memberships.as_ref().and_then(|memberships| memberships.of(MemberRole::Gateway)) {
                        background.push(tokio::spawn(follow_engines(membership, health.clone(), config.shards, roles_stopped.clone())));
                    }
                    health
                }
            };
            let gateway = Arc::new(Gateway {
                store: store.clone(),
                bus: CommandBus::new(log.clone(), local_replies.clone(), health),
                notifier: notifier.clone(),
                namespaces: NamespaceRegistry::new(store.clone()),
                matching,
                limits: config.limits.clone(),
                shard_count: config.shards,
                committed: local_engine.map(|engine| engine.committed_states()),
                router,
                draining: watch::channel(false).0,
                visibility,
            });
            for namespace in &namespaces_of(&config) {
                gateway.namespaces.ensure(namespace, DEV_RETENTION_DAYS).await.map_err(|e| ServerError::Storage(e.to_string()))?;
            }
            background.push(tokio::spawn(readiness.clone().follow_log(log.clone(), gateway.bus.log_reachable(), roles_stopped.clone())));
            background.push(tokio::spawn(reclaim_deleted_namespaces(gateway.clone(), roles_stopped.clone())));
            background.push(tokio::spawn(move_sticky_tasks_to_normal_queues(gateway.clone(), roles_stopped.clone())));
            background.push(tokio::spawn(sample_queue_lengths(gateway.clone(), roles_stopped.clone())));
            (Some(gateway), Some(cluster_service(local_replies.clone(), notifier.clone())))
        } else {
            (None, None)
        };

        let visibility_service = match projection {
            Some(projection) => {
                let trimming = if memberships.is_some() { Trimming::Never } else { Trimming::BehindThisIndex };
                background.push(tokio::spawn(temper_projections::run(log.clone(), projection.index.clone(), trimming, roles_stopped.clone())));
                readiness.projections_ready();
                // Other processes list through it only when it runs apart from a gateway.
                memberships.is_some().then(|| projection.service())
            }
            None => None,
        };
        if let Some(db) = &db {
            background.push(tokio::spawn(reclaim_space_periodically(db.clone(), config.compaction_interval, roles_stopped)));
        }

        let metrics = start_metrics_endpoint(&config.metrics).await?;
        // Bound last: accepting a connection means every role is started.
        let listener = TcpListener::bind(config.address).await.map_err(|source| ServerError::Bind { address: config.address, source })?;
        let address = listener.local_addr().map_err(|source| ServerError::Bind { address: config.address, source })?;
        println!("{}", ready_line(&config, address, &topology));
        if let Some(metrics) = &metrics {
            println!("Metrics on http://{}/metrics", metrics.address());
        }
        Ok(DevServer {
            listener,
            address,
            gateway,
            cluster_service,
            visibility_service,
            engine,
            store,
            db,
            memberships,
            readiness,
            stop_roles,
            background,
            _visibility_dir: visibility_dir,
        })
    }

    /// The address the gRPC API listens on (the bound port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What the server holds for calls in flight, readable while it serves.
    /// Only a process running the gateway role holds calls.
    pub fn held(&self) -> Held {
        Held { gateway: self.gateway.clone().expect("held() needs the gateway role") }
    }

    /// Serves until `shutdown` resolves, then stops every role and flushes the store.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServerError> {
        let reporting = tokio::spawn(report_store_traffic_on_request(self.store.clone()));
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reporting_health = tokio::spawn(self.readiness.clone().report(health_reporter));
        let router = tonic::transport::Server::builder()
            .layer(RpcMetricsLayer)
            .add_service(health_service.accept_compressed(tonic::codec::CompressionEncoding::Gzip));
        let mut router = match &self.gateway {
            Some(gateway) => {
                let max_request_bytes = gateway.limits.max_request_bytes;
                let workflow_service = WorkflowServiceServer::from_arc(Arc::new(Frontend { gateway: gateway.clone() }))
                    .max_decoding_message_size(max_request_bytes)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES)
                    // SDKs compress requests; replies stay uncompressed (cheaper on CPU).
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                router
                    .add_service(workflow_service)
                    .add_service(OperatorServiceServer::new(Operator { gateway: gateway.clone() }).accept_compressed(tonic::codec::CompressionEncoding::Gzip))
            }
            None => router.add_optional_service(None::<OperatorServiceServer<Operator>>),
        };
        if let Some(visibility) = self.visibility_service {
            router = router.add_service(visibility);
        }
        if let Some(cluster) = self.cluster_service {
            router = router.add_service(cluster);
        }
        let (gateway, memberships) = (self.gateway.clone(), self.memberships.clone());
        let drained = async move {
            shutdown.await;
            if let Some(gateway) = gateway {
                drain_gateway(&gateway, memberships.as_deref()).await;
            }
        };
        let served = router.serve_with_incoming_shutdown(incoming(self.listener), drained).await;

        reporting.abort();
        reporting_health.abort();
        // The engine releases its shards before it leaves, so the others take
        // them released rather than racing its last batch.
        if let Some(engine) = self.engine {
            engine.shutdown().await;
        }
        if let Some(memberships) = &self.memberships {
            memberships.leave(&[MemberRole::Engine, MemberRole::Projections]).await;
        }
        let _ = self.stop_roles.send(true);
        for task in self.background {
            let _ = task.await;
        }
        if let Some(db) = self.db {
            db.shutdown();
        }
        served.map_err(ServerError::from)
    }
}

/// Longest a stopping gateway spends storing how far matching got.
const STORE_ACK_LEVELS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Longest a stopping gateway waits for the answers of requests in flight.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Lets a stopping gateway's calls finish while it still serves: it answers
/// its waiting polls empty (the workers poll again, elsewhere), stores how
/// far matching got (so the next owners of its task queues do not hand out
/// again what it did), leaves the cluster (its task queues move to other
/// gateways at once), refuses new commands with UNAVAILABLE, and waits, up
/// to [`DRAIN_TIMEOUT`], for the engines' answers to the commands it
/// appended: they arrive over this port, which closes only afterwards.
async fn drain_gateway(gateway: &Gateway, memberships: Option<&Memberships>) {
    gateway.matching.drain();
    // Bounded: a store that does not answer must not hold the stop up.
    let _ = tokio::time::timeout(STORE_ACK_LEVELS_TIMEOUT, gateway.matching.store_ack_levels()).await;
    if let Some(memberships) = memberships {
        memberships.leave(&[MemberRole::Gateway]).await;
    }
    gateway.bus.drain();
    gateway.draining.send_replace(true);
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while gateway.bus.waiting() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Whether this process shares its store and log with others.
enum Topology {
    /// Every role here, over state no other process touches.
    SingleProcess,
    /// A member of a cluster sharing a Cassandra store and a Kafka log,
    /// reached by the others at `advertise`.
    Cluster { advertise: String },
}

impl Topology {
    fn of(config: &DevServerConfig) -> Result<Topology, ServerError> {
        let shared = matches!(config.store, StoreSelection::Cassandra(_)) && matches!(config.log, LogSelection::Kafka(_));
        if !shared {
            if !config.roles.is_all() {
                return Err(ServerError::Config(format!(
                    "--role {} needs the roles' processes to share their state: set persistence.store to cassandra and persistence.log to kafka",
                    config.roles
                )));
            }
            return Ok(Topology::SingleProcess);
        }
        let advertise = match &config.cluster.advertise_address {
            Some(address) => address.clone(),
            None if config.address.ip().is_unspecified() || config.address.port() == 0 => {
                return Err(ServerError::Config(format!(
                    "server.address {} is not an address other processes can reach; set cluster.advertise_address (or TEMPER_ADVERTISE_ADDRESS) to this host's ip:port",
                    config.address
                )));
            }
            None => config.address.to_string(),
        };
        Ok(Topology::Cluster { advertise })
    }
}

/// This process's projection: its visibility index, and where that lives.
struct Projection {
    index: Arc<VisibilityIndex>,
    log: Arc<dyn Log>,
    /// A temporary server's index directory, removed when the server is.
    temporary_dir: Option<tempfile::TempDir>,
}

impl Projection {
    /// Opens the index beside the embedded database (a file of its own next
    /// to the database's directory), in the data directory when the process
    /// keeps no embedded database, or in a temporary directory for a
    /// temporary server.
    fn open(config: &DevServerConfig, db: Option<&Arc<EmbeddedDb>>, log: Arc<dyn Log>) -> Result<Projection, ServerError> {
        let (path, temporary_dir) = match (&config.db_path, db) {
            (Some(path), Some(_)) => (sibling(path, "visibility.sqlite"), None),
            (Some(path), None) => (path.join("visibility.sqlite"), None),
            (None, _) => {
                let dir = tempfile::Builder::new()
                    .prefix("temper-visibility-")
                    .tempdir()
                    .map_err(|e| ServerError::Storage(format!("creating a temporary directory for the visibility index: {e}")))?;
                (dir.path().join("visibility.sqlite"), Some(dir))
            }
        };
        let index = VisibilityIndex::open(&path)
            .map_err(|e| ServerError::Storage(format!("opening the visibility index {}: {e}", path.display())))?;
        Ok(Projection { index, log, temporary_dir })
    }

    fn reader(&self) -> Arc<dyn VisibilityReader> {
        Arc::new(self.local_reader())
    }

    fn local_reader(&self) -> LocalReader {
        LocalReader { index: self.index.clone(), log: self.log.clone() }
    }

    fn service(&self) -> VisibilityServer<VisibilityService> {
        VisibilityService { reader: self.local_reader() }.server()
    }
}

/// `path` with `.suffix` added to its last component.
fn sibling(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

fn open_embedded_db(config: &DevServerConfig) -> Result<Option<Arc<EmbeddedDb>>, ServerError> {
    let needed = matches!(config.log, LogSelection::Embedded) || matches!(config.store, StoreSelection::Embedded);
    if !needed {
        return Ok(None);
    }
    match &config.db_path {
        Some(path) => EmbeddedDb::open(path),
        None => EmbeddedDb::open_temporary(),
    }
    .map(Some)
    .map_err(|e| ServerError::Storage(e.to_string()))
}

async fn open_log(config: &DevServerConfig, db: Option<&Arc<EmbeddedDb>>, layout: LogLayout) -> Result<Arc<dyn Log>, ServerError> {
    Ok(match (&config.log, db) {
        (LogSelection::Kafka(kafka), _) => {
            Arc::new(KafkaLog::open(kafka.clone(), layout).await.map_err(|e| ServerError::Log(e.to_string()))?)
        }
        (LogSelection::Embedded, Some(db)) => {
            Arc::new(EmbeddedLog::open(db.clone(), layout).map_err(|e| ServerError::Storage(e.to_string()))?)
        }
        (LogSelection::Embedded, None) => unreachable!("the embedded log opens the data directory"),
    })
}

async fn open_store(config: &DevServerConfig, db: Option<&Arc<EmbeddedDb>>) -> Result<Arc<dyn Store>, ServerError> {
    Ok(match (&config.store, db) {
        (StoreSelection::Cassandra(cassandra), _) => {
            Arc::new(CassandraStore::connect(cassandra).await.map_err(|e| ServerError::Store(e.to_string()))?)
        }
        (StoreSelection::Embedded, Some(db)) => Arc::new(EmbeddedStore::new(db.clone())),
        (StoreSelection::Embedded, None) => unreachable!("the embedded store opens the data directory"),
    })
}

fn engine_config(config: &DevServerConfig) -> EngineConfig {
    let mut engine_config = EngineConfig { shard_count: config.shards, ..EngineConfig::default() };
    engine_config.state_machine.max_payload_bytes = config.limits.max_payload_bytes;
    engine_config.state_machine.max_id_length = config.limits.max_id_length;
    engine_config.state_machine.max_failure_depth = config.limits.max_failure_depth;
    engine_config.state_machine.run_limits = config.run_limits.clone();
    engine_config
}

/// Serves `/metrics` as `settings` ask; a port that cannot be bound is an
/// error only where the endpoint is required.
async fn start_metrics_endpoint(settings: &MetricsSettings) -> Result<Option<MetricsEndpoint>, ServerError> {
    let Some(address) = settings.address else { return Ok(None) };
    match MetricsEndpoint::start(address).await {
        Ok(endpoint) => Ok(Some(endpoint)),
        Err(source) if settings.required => Err(ServerError::Bind { address, source }),
        Err(error) => {
            tracing::warn!(%address, %error, "metrics are not served: the port cannot be bound (choose another with --metrics-port)");
            Ok(None)
        }
    }
}

fn namespaces_of(config: &DevServerConfig) -> Vec<String> {
    let mut namespaces = vec!["default".to_string()];
    namespaces.extend(config.namespaces.iter().cloned());
    namespaces
}

fn ready_line(config: &DevServerConfig, address: SocketAddr, topology: &Topology) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let place = match topology {
        Topology::SingleProcess => {
            let data = config.db_path.as_ref().map_or("a temporary directory (lost on exit)".to_string(), |p| p.display().to_string());
            format!("data in {data}")
        }
        Topology::Cluster { advertise } => format!("cluster member at {advertise}"),
    };
    if config.roles.gateway {
        format!("Temper {version} ready: Temporal gRPC API on {address}, namespaces {}, roles {}, {place}", namespaces_of(config).join(", "), config.roles)
    } else {
        format!("Temper {version} ready: roles {} (health on {address}), {place}", config.roles)
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
/// earlier process appended are not mistaken for this one's; also its
/// member id in the cluster.
fn incarnation() -> u64 {
    let id = uuid::Uuid::new_v4();
    u64::from_le_bytes(id.as_bytes()[..8].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(store: StoreSelection, log: LogSelection, roles: &str, address: &str) -> DevServerConfig {
        DevServerConfig { store, log, roles: roles.parse().expect("roles"), ..DevServerConfig::new(address.parse().expect("an address")) }
    }

    fn shared() -> (StoreSelection, LogSelection) {
        (StoreSelection::Cassandra(CassandraConfig::default()), LogSelection::Kafka(KafkaLogConfig::default()))
    }

    fn refusal(config: &DevServerConfig) -> String {
        match Topology::of(config) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("the topology was accepted"),
        }
    }

    #[test]
    fn separate_roles_need_a_shared_store_and_log() {
        let embedded = config(StoreSelection::Embedded, LogSelection::Embedded, "engine", "127.0.0.1:7233");
        assert!(refusal(&embedded).contains("--role engine needs"), "{}", refusal(&embedded));
        let cassandra_only = config(shared().0, LogSelection::Embedded, "gateway", "127.0.0.1:7233");
        assert!(refusal(&cassandra_only).contains("persistence.log to kafka"));
        let all_embedded = config(StoreSelection::Embedded, LogSelection::Embedded, "gateway,engine,projections", "127.0.0.1:7233");
        assert!(matches!(Topology::of(&all_embedded), Ok(Topology::SingleProcess)));
    }

    #[test]
    fn a_cluster_member_needs_an_address_the_others_can_reach() {
        let (store, log) = shared();
        let unreachable = config(store.clone(), log.clone(), "engine", "0.0.0.0:7234");
        assert!(refusal(&unreachable).contains("cluster.advertise_address"), "{}", refusal(&unreachable));
        let mut advertised = config(store.clone(), log.clone(), "engine", "0.0.0.0:7234");
        advertised.cluster.advertise_address = Some("10.0.0.1:7234".into());
        assert!(matches!(Topology::of(&advertised), Ok(Topology::Cluster { advertise }) if advertise == "10.0.0.1:7234"));
        let bound = config(store, log, "engine", "10.0.0.2:7234");
        assert!(matches!(Topology::of(&bound), Ok(Topology::Cluster { advertise }) if advertise == "10.0.0.2:7234"));
    }
}
