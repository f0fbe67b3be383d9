//! The `temper` command line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use temper_engine::state_machine::RunLimits;

use crate::gateway::Limits;
use crate::roles::Roles;
use crate::schema_tool::SchemaCommand;
use crate::ui::UiSettings;
use crate::server::{DevServerConfig, MetricsSettings, TracingSettings, run_dev_server};

#[derive(Parser)]
#[command(name = "temper", version, about = "A durable workflow server that speaks Temporal's API")]
struct Cli {
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Subcommand)]
enum TopCommand {
    /// Run the server.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Load-test a Temporal-API server (Temper's or Temporal's) as starter and worker.
    Bench(temper_bench::BenchArgs),
    /// Create or migrate the Cassandra/ScyllaDB schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Run every role in one process on the embedded store.
    StartDev(StartDevArgs),
    /// Run the server from a config file (see the README), for example on a
    /// Cassandra store.
    Start(StartArgs),
}

#[derive(clap::Args)]
struct StartArgs {
    /// The config file (YAML).
    #[arg(long)]
    config: PathBuf,
    /// The roles this process runs: any of gateway, engine and projections,
    /// comma-separated (Temporal's `--service`). Separate roles need a
    /// shared store (Cassandra) and log (Kafka).
    #[arg(long, default_value = "gateway,engine,projections")]
    role: Roles,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "warn")]
    log_level: String,
}

#[derive(clap::Args)]
struct StartDevArgs {
    /// IP address to serve the gRPC API on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Port of the gRPC API.
    #[arg(short, long, default_value_t = 7233)]
    port: u16,
    /// Port of the Prometheus metrics endpoint (`/metrics`), on the same IP;
    /// 0 turns it off. A port already taken only warns.
    #[arg(long, default_value_t = MetricsSettings::DEFAULT_PORT)]
    metrics_port: u16,
    /// Port of the official Temporal Web UI, on the same IP (default: the
    /// gRPC port plus 1000, as Temporal's dev server). Needs Temporal's
    /// `ui-server` binary (see `--ui-server`); without it the server runs
    /// without the UI and says how to install it.
    #[arg(long)]
    ui_port: Option<u16>,
    /// Temporal's `ui-server` binary; by default `TEMPER_UI_SERVER`, else
    /// `temporal-ui-server` on the PATH.
    #[arg(long)]
    ui_server: Option<PathBuf>,
    /// Do not start the Web UI.
    #[arg(long)]
    headless: bool,
    /// Data directory, kept across restarts; without it data lives in a
    /// temporary directory and is lost on exit.
    #[arg(short = 'f', long = "db-filename")]
    db_filename: Option<PathBuf>,
    /// Another namespace to create at start (may repeat); `default` always exists.
    #[arg(short, long = "namespace")]
    namespaces: Vec<String>,
    /// Shards workflows are spread over; fixed once data exists.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    shards: u32,
    /// Largest payload (input, result, details) a request may carry, in bytes.
    #[arg(long, default_value_t = Limits::default().max_payload_bytes)]
    max_payload_bytes: usize,
    /// Longest id or name (workflow id, task queue, namespace, signal name, ...), in bytes.
    #[arg(long, default_value_t = Limits::default().max_id_length)]
    max_id_length: usize,
    /// Largest gRPC request accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_request_bytes)]
    max_request_bytes: usize,
    /// Shortest retention RegisterNamespace accepts (Temporal's
    /// `system.namespaceMinRetentionLocal`), like 1h or 2s.
    #[arg(long, default_value = "1h", value_parser = temper_bench::parse_duration)]
    min_namespace_retention: std::time::Duration,
    /// How often the data directory is compacted once enough was deleted
    /// (trimmed logs, expired runs), like 60s.
    #[arg(long, default_value = "60s", value_parser = temper_bench::parse_duration)]
    compaction_interval: std::time::Duration,
    /// History length (events) past which workflows are told to continue as new.
    #[arg(long, default_value_t = RunLimits::default().history_count_warn)]
    history_count_warn: i64,
    /// History size (bytes) past which workflows are told to continue as new.
    #[arg(long, default_value_t = RunLimits::default().history_size_warn_bytes)]
    history_size_warn_bytes: i64,
    /// History length (events) past which a run is terminated.
    #[arg(long, default_value_t = RunLimits::default().history_count_limit)]
    history_count_limit: i64,
    /// History size (bytes) past which a run is terminated.
    #[arg(long, default_value_t = RunLimits::default().history_size_limit_bytes)]
    history_size_limit_bytes: i64,
    /// Most activities one run may have pending at once.
    #[arg(long, default_value_t = RunLimits::default().max_pending_activities)]
    max_pending_activities: usize,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "warn")]
    log_level: String,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        TopCommand::Server(ServerCommand::StartDev(args)) => start_dev(args),
        TopCommand::Server(ServerCommand::Start(args)) => start(args),
        TopCommand::Bench(args) => bench(args),
        TopCommand::Schema(command) => block_on(crate::schema_tool::run(command)),
    }
}

fn bench(args: temper_bench::BenchArgs) -> ExitCode {
    let json = args.json;
    block_on(async move {
        match temper_bench::run(args).await {
            Ok(report) if json => {
                println!("{}", serde_json::to_string_pretty(&report).expect("a report serializes"));
                ExitCode::SUCCESS
            }
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("temper bench: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

fn start(args: StartArgs) -> ExitCode {
    init_logging(&args.log_level);
    match crate::config_file::load(&args.config) {
        Ok(config) => serve(DevServerConfig { roles: args.role, ..config }),
        Err(error) => {
            eprintln!("temper: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .or_else(|_| tracing_subscriber::EnvFilter::try_new("warn"))
        .expect("a valid default filter");
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn start_dev(args: StartDevArgs) -> ExitCode {
    init_logging(&args.log_level);
    let ui = match web_ui(&args) {
        Ok(ui) => ui,
        Err(error) => {
            eprintln!("temper: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = DevServerConfig {
        address: SocketAddr::new(args.ip, args.port),
        db_path: args.db_filename,
        namespaces: args.namespaces,
        shards: args.shards,
        limits: Limits {
            max_payload_bytes: args.max_payload_bytes,
            max_id_length: args.max_id_length,
            max_request_bytes: args.max_request_bytes,
            min_namespace_retention_nanos: i64::try_from(args.min_namespace_retention.as_nanos()).unwrap_or(i64::MAX),
            ..Limits::default()
        },
        run_limits: RunLimits {
            history_count_warn: args.history_count_warn,
            history_size_warn_bytes: args.history_size_warn_bytes,
            history_count_limit: args.history_count_limit,
            history_size_limit_bytes: args.history_size_limit_bytes,
            max_pending_activities: args.max_pending_activities,
        },
        compaction_interval: args.compaction_interval,
        store: Default::default(),
        log: Default::default(),
        roles: Roles::ALL,
        cluster: Default::default(),
        metrics: MetricsSettings {
            address: (args.metrics_port != 0).then(|| SocketAddr::new(args.ip, args.metrics_port)),
            required: false,
        },
        tracing: match TracingSettings::from_environment() {
            Ok(tracing) => tracing,
            Err(error) => {
                eprintln!("temper: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    serve_with_ui(config, ui)
}

/// The Web UI to start beside the server, if any: none when `--headless`,
/// or (with a message saying how to install it) when the ui-server binary
/// is not found.
fn web_ui(args: &StartDevArgs) -> Result<Option<(PathBuf, UiSettings)>, String> {
    if args.headless {
        return Ok(None);
    }
    let port = match args.ui_port {
        Some(port) => port,
        None => args.port.checked_add(1000).ok_or("--ui-port is needed: the gRPC port plus 1000 is not a port")?,
    };
    let settings = UiSettings {
        address: SocketAddr::new(args.ip, port),
        grpc_address: SocketAddr::new(args.ip, args.port),
        default_namespace: "default".to_string(),
    };
    match crate::ui::find_binary(args.ui_server.clone()) {
        Some(binary) => Ok(Some((binary, settings))),
        None => {
            eprintln!(
                "temper: the Web UI needs Temporal's ui-server ({}), which is not installed; \
                 serving without it. Install it with:\n  {}\nor pass --headless to skip the UI.",
                crate::ui::UI_SERVER_VERSION,
                crate::ui::INSTALL_HINT
            );
            Ok(None)
        }
    }
}

fn serve(config: DevServerConfig) -> ExitCode {
    serve_with_ui(config, None)
}

fn serve_with_ui(config: DevServerConfig, ui: Option<(PathBuf, UiSettings)>) -> ExitCode {
    block_on(async {
        // Stopped (killed) when this scope ends, with the server.
        let _ui = match ui {
            None => None,
            Some((binary, settings)) => match crate::ui::UiServer::start(&binary, &settings) {
                Ok(server) => {
                    eprintln!("temper: Web UI at http://{}", settings.address);
                    Some(server)
                }
                Err(error) => {
                    eprintln!("temper: cannot start the Web UI ({}): {error}", binary.display());
                    return ExitCode::FAILURE;
                }
            },
        };
        let traces = match crate::telemetry::traces::start(&config.tracing, &config.roles.to_string()) {
            Ok(traces) => traces,
            Err(error) => {
                eprintln!("temper: {error}");
                return ExitCode::FAILURE;
            }
        };
        let served = run_dev_server(config, shutdown_signal()).await;
        if let Some(traces) = traces {
            // Flushing blocks until the exporter, which runs on this
            // runtime, has sent what is queued.
            let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        }
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("temper: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

fn block_on(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => {
            eprintln!("temper: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("installing SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
