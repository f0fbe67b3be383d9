//! Bounded growth: once workflows have completed and their namespace's
//! retention has passed, the data directory shrinks back to about its size
//! before them, the deleted runs are gone, and the consumed logs are trimmed.
//!
//! The tables (where deleted data lives until compaction) must come back to
//! within `TABLES_BOUND` of their size before; the journal is bounded by
//! fjall itself (`JOURNAL_BOUND`) and keeps its file until that fills.
//!
//! Temper-only: it passes Temper's flags for a short retention and a short
//! compaction interval, and reads Temper's data directory afterwards. The
//! Python SDK's view of retention (`retention.py`) runs here too, for the
//! flag it needs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use temper_engine::embedded_db::{DiskUsage, EmbeddedDb};
use temper_engine::log::embedded::EmbeddedLog;
use temper_engine::log::{Log, LogError, LogLayout, LogName, Offset};
use temper_engine::store::embedded::EmbeddedStore;
use temper_engine::store::{HistoryStore, NamespaceStore, RunKey};
use temper_engine::time::duration_from_nanos;
use temper_proto::api::common::v1::{WorkflowExecution, WorkflowType};
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, RegisterNamespaceRequest, StartWorkflowExecutionRequest,
};
use temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use temper_tests::{ServerKind, TestDir, TestServer, run_python};
use tonic::transport::Channel;

const NAMESPACE: &str = "growth";
const RETENTION: Duration = Duration::from_secs(2);
const WORKFLOWS: u32 = 5000;
/// `start-dev`'s default shard count, which fixes every log's partitions.
const SHARDS: u32 = 4;
/// What the tables may keep once everything is deleted: the untrimmed tail
/// of each log partition (fewer than 1,024 records, see `LogTrimmer`), the
/// `tasks` log behind matching's ack level, and a small table file or two per
/// keyspace.
const TABLES_BOUND: u64 = 4 * 1024 * 1024;
/// The journal is bounded by fjall, not by deletions: it appends to one file
/// until that passes 64 MB (see `DiskUsage::journal`), and files before it
/// go once flushed, which reclaiming space does.
const JOURNAL_BOUND: u64 = 72 * 1024 * 1024;
/// A consumer trims every 1,024 records, so fewer than that stay untrimmed.
const UNTRIMMED_BOUND: Offset = 1024;
const DEADLINE: Duration = Duration::from_secs(60);

/// The same retention through the official Python SDK: the run is gone
/// from describe, list and count, and a running one stays.
#[test]
fn the_python_sdk_sees_closed_runs_go_after_retention() {
    if matches!(ServerKind::detect(), ServerKind::Temporal) {
        eprintln!("skipped: Temporal refuses a retention shorter than a day");
        return;
    }
    let dir = TestDir::new("retention");
    let server = TestServer::start_with_db_and_args(dir.path().join("db"), &["--min-namespace-retention", "1s"]);
    run_python("retention.py", &["--address", server.address().as_str()]);
}

#[test]
fn closed_runs_are_deleted_after_retention_and_the_space_comes_back() {
    if matches!(ServerKind::detect(), ServerKind::Temporal) {
        eprintln!("skipped: this test reads Temper's data directory");
        return;
    }
    let dir = TestDir::new("growth");
    let db = dir.path().join("db");
    let mut server =
        TestServer::start_with_db_and_args(&db, &["--min-namespace-retention", "1s", "--compaction-interval", "5s"]);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut client = runtime.block_on(connect(&server.address()));
    runtime.block_on(register_namespace(&mut client));
    let before = DiskUsage::of(&db);

    let began = Instant::now();
    let report = bench(&server.address());
    assert_eq!(report["completed"], WORKFLOWS, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    let loaded = DiskUsage::of(&db);
    eprintln!("{WORKFLOWS} workflows in {:?}; data directory before {before:?}, after them {loaded:?}", began.elapsed());
    // Runs are deleted 2 s after they close, so the tables never hold many
    // at once; the journal shows how much the workload wrote.
    assert!(loaded.total() > before.total() + 4 * TABLES_BOUND, "the workload should have written a lot: {before:?} -> {loaded:?}");

    // Closed after every bench run, so deleted after them too.
    let probe = runtime.block_on(start_probe(&mut client));
    let deleted_within = wait_until(|| runtime.block_on(is_not_found(&mut client, &probe)));
    assert!(deleted_within.is_some(), "the probe run was still describable {DEADLINE:?} after its retention");
    let shrunk_within = wait_until(|| DiskUsage::of(&db).tables <= before.tables + TABLES_BOUND);
    let after = DiskUsage::of(&db);
    eprintln!("data directory after retention: {after:?} ({shrunk_within:?} after the load)");
    assert!(shrunk_within.is_some(), "tables: before {before:?}, loaded {loaded:?}, still {after:?} after retention");
    assert!(after.journal <= JOURNAL_BOUND, "the journal outgrew fjall's bound: {after:?}");

    server.kill_9();
    runtime.block_on(assert_logs_trimmed(&db, &probe));
}

async fn connect(address: &str) -> WorkflowServiceClient<Channel> {
    WorkflowServiceClient::connect(format!("http://{address}")).await.expect("connecting to the server")
}

async fn register_namespace(client: &mut WorkflowServiceClient<Channel>) {
    let retention = duration_from_nanos(RETENTION.as_nanos() as i64);
    let request = RegisterNamespaceRequest {
        namespace: NAMESPACE.into(),
        workflow_execution_retention_period: Some(retention),
        ..Default::default()
    };
    client.register_namespace(request).await.expect("registering a namespace with a 2 s retention");
}

/// A run nobody works on, timed out after a second: one whose id the test
/// knows, to describe before and after its retention.
async fn start_probe(client: &mut WorkflowServiceClient<Channel>) -> WorkflowExecution {
    let request = StartWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_id: "growth-probe".into(),
        workflow_type: Some(WorkflowType { name: "Probe".into() }),
        task_queue: Some(TaskQueue { name: "nobody-polls".into(), ..Default::default() }),
        workflow_run_timeout: Some(duration_from_nanos(1_000_000_000)),
        request_id: "growth-probe".into(),
        ..Default::default()
    };
    let run_id = client.start_workflow_execution(request).await.expect("starting the probe").into_inner().run_id;
    let probe = WorkflowExecution { workflow_id: "growth-probe".into(), run_id };
    assert!(!is_not_found(client, &probe).await, "the probe is describable while it runs");
    probe
}

async fn is_not_found(client: &mut WorkflowServiceClient<Channel>, run: &WorkflowExecution) -> bool {
    let request = DescribeWorkflowExecutionRequest { namespace: NAMESPACE.into(), execution: Some(run.clone()) };
    match client.describe_workflow_execution(request).await {
        Ok(_) => false,
        Err(status) if status.code() == tonic::Code::NotFound => true,
        Err(status) => panic!("describing the probe: expected NOT_FOUND or success, got {status:?}"),
    }
}

fn bench(address: &str) -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_temper-under-test"))
        .args(["bench", "--address", address, "--namespace", NAMESPACE, "--scenario", "hello-activity", "--json"])
        .args(["--workflows", &WORKFLOWS.to_string(), "--concurrency", "50", "--pollers", "4"])
        .output()
        .expect("running temper bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "temper bench failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("temper bench --json printed no report ({e}): {stdout}"))
}

/// Polls `done` until it holds or the deadline passes; how long it took.
fn wait_until(mut done: impl FnMut() -> bool) -> Option<Duration> {
    let began = Instant::now();
    while began.elapsed() < DEADLINE {
        if done() {
            return Some(began.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Every partition of the `commands` and `visibility` logs was trimmed up to
/// its last 1,024 records at most, and the probe's history is gone.
async fn assert_logs_trimmed(db: &Path, probe: &WorkflowExecution) {
    let db = EmbeddedDb::open(db).expect("reopening the data directory");
    let store = EmbeddedStore::new(db.clone());
    let namespace = store.get_namespace_by_name(NAMESPACE).await.expect("reading the namespace").expect("the namespace");
    let run = RunKey { namespace_id: namespace.id, workflow_id: probe.workflow_id.clone(), run_id: probe.run_id.clone() };
    assert!(store.read_history(&run, 1, 10).await.expect("read_history").is_empty(), "the probe's history is stored still");
    let layout = LogLayout { commands: SHARDS, tasks: SHARDS, visibility: SHARDS };
    let log = EmbeddedLog::open(db.clone(), layout).expect("opening the log");
    for name in [LogName::Commands, LogName::Visibility] {
        for partition in 0..SHARDS {
            let end = log.end_offset(name, partition).await.expect("end_offset");
            let oldest = match log.read(name, partition, 0, 1).await {
                Err(LogError::Trimmed { oldest, .. }) => oldest,
                Ok(_) => 0,
                Err(error) => panic!("reading {name} partition {partition}: {error}"),
            };
            assert!(oldest > 0, "{name} partition {partition} was never trimmed ({end} records)");
            assert!(end - oldest < UNTRIMMED_BOUND, "{name} partition {partition} keeps {oldest}..{end}");
        }
    }
}
