//! A Temper cluster (3 engines, 2 gateways, 1 projections process; see
//! temper_tests::cluster) restarted under a steady load of workflows started
//! through one gateway and worked through the other (steady_load.py):
//! 1. a rolling restart: every process stopped (SIGTERM, one engine by
//!    SIGKILL) and started again, one at a time, each once the cluster is
//!    ready again; no workflow may fail or run twice (the engines and the
//!    projections process in one test, the gateways in another);
//! 2. Kafka stopped and started again: while it is down a start answers
//!    UNAVAILABLE, and once it is back the cluster recovers by itself and
//!    every workflow started before, during and after completes exactly once;
//! 3. every engine killed: the gateways refuse starts at once (UNAVAILABLE,
//!    nothing recorded) until an engine is back, and no workflow is lost.
//!
//! The Kafka test stops a Kafka of its own (tests/services/kafka.sh on other
//! ports and another directory): the shared one serves other tests meanwhile.
//! Each test reports its restart durations and the UNAVAILABLE window.
//! Without `java` the tests say so loudly and pass (the only allowed skip).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use temper_proto::api::common::v1::WorkflowType;
use temper_proto::api::taskqueue::v1::TaskQueue;
use temper_proto::api::workflowservice::v1::StartWorkflowExecutionRequest;
use temper_proto::service::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use temper_tests::cluster::{Cluster, engines_ready};
use temper_tests::{
    ScenarioProcess, TestDir, TestServer, crate_dir, free_port, grpc_health_serving, run_or_panic, start_cassandra_and_kafka,
    target_dir, temper_for_cassandra_tests,
};

/// Workflows started per second by the load, at most, and under way at
/// once, at most: on a loaded machine the cluster sets the pace.
const RATE: &str = "100";
const MAX_IN_FLIGHT: &str = "100";
/// How long a stopped process may take to exit, and the cluster to be ready
/// again after a restart: generous for a loaded 2-core machine.
const WITHIN: Duration = Duration::from_secs(60);
/// How long the load may take to collect and verify every workflow.
const LOAD_FINISH: Duration = Duration::from_secs(600);
/// How long one start may take before the probe calls it hung: the
/// UNAVAILABLE must come well within an SDK's RPC timeout (10 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn engines_and_projections_restarted_one_at_a_time_under_load_lose_and_duplicate_no_workflow() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let mut cluster = Cluster::start(&temper, "rolling_engines", 3, 2);
    let mut load = steady_load(&cluster);
    for engine in 0..cluster.engines.len() {
        // The last engine crashes instead: its shards go back to it as soon
        // as it is restarted under the same id.
        let how = if engine + 1 == cluster.engines.len() { Stop::Kill9 } else { Stop::Sigterm };
        restart(&mut cluster, &mut load, |cluster| &mut cluster.engines[engine], how);
    }
    restart(&mut cluster, &mut load, |cluster| &mut cluster.projections[0], Stop::Sigterm);
    load.write_line("STOP");
    let output = load.finish(LOAD_FINISH);
    eprintln!("[rolling engines] {}", load_summary(&output));
}

#[test]
fn gateways_restarted_one_at_a_time_under_load_lose_and_duplicate_no_workflow() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let mut cluster = Cluster::start(&temper, "rolling_gateways", 3, 2);
    let mut load = steady_load(&cluster);
    for gateway in 0..cluster.gateways.len() {
        restart(&mut cluster, &mut load, |cluster| &mut cluster.gateways[gateway], Stop::Sigterm);
    }
    load.write_line("STOP");
    let output = load.finish(LOAD_FINISH);
    eprintln!("[rolling gateways] {}", load_summary(&output));
}

#[test]
fn a_cluster_recovers_by_itself_once_kafka_is_back() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let (cassandra, _) = start_cassandra_and_kafka();
    let kafka = PrivateKafka::start();
    let cluster = Cluster::start_on(&temper, "kafka_restart", 3, 2, &cassandra, &kafka.address());
    let mut load = steady_load(&cluster);
    let gateway = cluster.gateways[0].address();

    let stopped_at = Instant::now();
    kafka.run("stop");
    eprintln!("[kafka] stopped in {:.1}s", stopped_at.elapsed().as_secs_f64());
    let (unavailable_after, probe_took) = until_start_answers(&gateway, Answer::Unavailable);
    eprintln!(
        "[kafka] a start answered UNAVAILABLE {:.1}s after the stop began, in {:.2}s",
        unavailable_after.as_secs_f64(),
        probe_took.as_secs_f64()
    );
    let restarted_at = Instant::now();
    kafka.run("start");
    eprintln!("[kafka] started again in {:.1}s", restarted_at.elapsed().as_secs_f64());
    let (serving_after, _) = until_start_answers(&gateway, Answer::Started);
    eprintln!("[kafka] starts succeed again {:.1}s after Kafka was started", serving_after.as_secs_f64());
    cluster.wait_until_engines_own_every_shard(WITHIN);
    eprintln!("[kafka] {}", until_load_progresses(&mut load));
    load.write_line("STOP");
    let output = load.finish(LOAD_FINISH);
    eprintln!("[kafka] {}", load_summary(&output));
}

#[test]
fn with_every_engine_down_commands_are_refused_at_once_and_served_again_once_one_is_back() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let mut cluster = Cluster::start(&temper, "engines_down", 2, 2);
    let mut load = steady_load(&cluster);
    let gateway = cluster.gateways[0].address();

    for engine in &mut cluster.engines {
        engine.kill_9();
    }
    // Starts appended before the gateway sees the engines gone (their
    // leases run out) are told they may still be applied; after that,
    // starts are refused before anything is recorded.
    let (unavailable_after, probe_took) = until_start_answers(&gateway, Answer::Unavailable);
    eprintln!(
        "[engines down] a start answered UNAVAILABLE {:.1}s after the engines were killed, in {:.2}s",
        unavailable_after.as_secs_f64(),
        probe_took.as_secs_f64()
    );
    let refusal = start_refused(&gateway);
    assert!(
        refusal.contains("nothing was recorded") && refusal.contains("no engine is running"),
        "a start with no engine in the cluster says why and that nothing was recorded: {refusal}"
    );

    for engine in &mut cluster.engines {
        engine.restart();
    }
    let (serving_after, _) = until_start_answers(&gateway, Answer::Started);
    eprintln!("[engines down] starts succeed again {:.1}s after the engines were started", serving_after.as_secs_f64());
    cluster.wait_until_engines_own_every_shard(WITHIN);
    eprintln!("[engines down] {}", until_load_progresses(&mut load));
    load.write_line("STOP");
    let output = load.finish(LOAD_FINISH);
    eprintln!("[engines down] {}", load_summary(&output));
}

/// The message of a start through `address` that must answer UNAVAILABLE at once.
fn start_refused(address: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let mut client = WorkflowServiceClient::connect(format!("http://{address}")).await.expect("connecting to the gateway");
        let mut request = probe_start(0);
        request.workflow_id = format!("refused-{}", std::process::id());
        request.request_id = request.workflow_id.clone();
        match tokio::time::timeout(PROBE_TIMEOUT, client.start_workflow_execution(request)).await {
            Ok(Err(status)) if status.code() == tonic::Code::Unavailable => status.message().to_string(),
            Ok(answer) => panic!("a start with no engine answered {answer:?}, not UNAVAILABLE"),
            Err(_) => panic!("a start with no engine got no answer within {PROBE_TIMEOUT:?}"),
        }
    })
}

#[derive(Clone, Copy, Debug)]
enum Stop {
    Sigterm,
    Kill9,
}

/// Stops the process `which` picks, starts it again on its port, and waits
/// until every process of the cluster is ready and the load has gone on;
/// says how long each took.
fn restart(cluster: &mut Cluster, load: &mut ScenarioProcess, which: impl Fn(&mut Cluster) -> &mut TestServer, how: Stop) {
    let server = which(cluster);
    let stopped_at = Instant::now();
    match how {
        Stop::Sigterm => {
            server.stop_gracefully(WITHIN);
        }
        Stop::Kill9 => server.kill_9(),
    }
    let stop_took = stopped_at.elapsed();
    server.restart();
    let started_after = stopped_at.elapsed();
    until_ready(cluster);
    let ready_after = stopped_at.elapsed();
    let progressed = until_load_progresses(load);
    eprintln!(
        "[restart] {} ({how:?}): stopped in {:.2}s, listening again after {:.2}s, cluster ready after {:.2}s, \
         load progressed after {:.2}s ({progressed})",
        which(cluster).address(),
        stop_took.as_secs_f64(),
        started_after.as_secs_f64(),
        ready_after.as_secs_f64(),
        stopped_at.elapsed().as_secs_f64()
    );
}

/// Waits until every process reports all its roles SERVING through
/// grpc.health and the engines hold every shard assigned to them.
fn until_ready(cluster: &Cluster) {
    let deadline = Instant::now() + WITHIN;
    let processes = || cluster.engines.iter().chain(&cluster.gateways).chain(&cluster.projections);
    while !(processes().all(|server| grpc_health_serving(&server.address(), "")) && engines_ready(&cluster.engines)) {
        assert!(Instant::now() < deadline, "the cluster was not ready again within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// steady_load.py on the cluster, once it completes workflows.
fn steady_load(cluster: &Cluster) -> ScenarioProcess {
    let args = cluster.scenario_args();
    let mut script_args: Vec<&str> = args.iter().map(String::as_str).collect();
    script_args.extend(["--rate", RATE, "--max-in-flight", MAX_IN_FLIGHT]);
    let mut load = ScenarioProcess::spawn("steady_load.py", &script_args);
    let running = load.wait_for_line("LOAD_RUNNING", Duration::from_secs(180));
    eprintln!("[load] {running}");
    load
}

/// Waits until more workflows completed since now (LOAD_PROGRESSED).
fn until_load_progresses(load: &mut ScenarioProcess) -> String {
    load.write_line("PROGRESS");
    load.wait_for_line("LOAD_PROGRESSED", WITHIN)
}

/// What the load says it achieved and verified.
fn load_summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|line| line.contains("LOAD_RATE") || line.contains("LOAD_VERIFIED")).collect();
    lines.join("\n")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Unavailable,
    Started,
}

/// Starts probe workflows (no worker polls their task queue) through the
/// gateway at `address` until one answers `wanted`; returns when, and how
/// long that start took. Panics on any other error, on a start that hangs
/// past [`PROBE_TIMEOUT`], or after [`WITHIN`].
fn until_start_answers(address: &str, wanted: Answer) -> (Duration, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let begun = Instant::now();
    runtime.block_on(async {
        let mut client = WorkflowServiceClient::connect(format!("http://{address}")).await.expect("connecting to the gateway");
        for n in 0.. {
            let asked_at = Instant::now();
            let answer = tokio::time::timeout(PROBE_TIMEOUT, client.start_workflow_execution(probe_start(n))).await;
            let took = asked_at.elapsed();
            let answer = match answer {
                Ok(Ok(_)) => Answer::Started,
                Ok(Err(status)) if status.code() == tonic::Code::Unavailable => Answer::Unavailable,
                Ok(Err(status)) => panic!("a start answered {status:?}, neither started nor UNAVAILABLE"),
                Err(_) => panic!("a start got no answer within {PROBE_TIMEOUT:?} (after {:.1}s)", begun.elapsed().as_secs_f64()),
            };
            if answer == wanted {
                return (begun.elapsed(), took);
            }
            if took > Duration::from_secs(1) {
                eprintln!("[probe] a start answered {answer:?} in {:.1}s", took.as_secs_f64());
            }
            assert!(begun.elapsed() < WITHIN, "no start answered {wanted:?} within {WITHIN:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        unreachable!()
    })
}

fn probe_start(n: u32) -> StartWorkflowExecutionRequest {
    let id = format!("probe-{}-{n}", std::process::id());
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.clone(),
        workflow_type: Some(WorkflowType { name: "Probe".into() }),
        task_queue: Some(TaskQueue { name: "probe".into(), ..Default::default() }),
        request_id: id,
        ..Default::default()
    }
}

/// A Kafka of this test's own (tests/services/kafka.sh on free ports, its
/// data in a test directory, the jars shared), stopped when dropped.
struct PrivateKafka {
    dir: TestDir,
    port: u16,
    controller_port: u16,
}

impl PrivateKafka {
    fn start() -> PrivateKafka {
        let kafka = PrivateKafka { dir: TestDir::new("kafka"), port: free_port(), controller_port: free_port() };
        kafka.run("start");
        kafka
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&self, action: &str) {
        run_or_panic(&mut self.command(action), &format!("tests/services/kafka.sh {action} (port {})", self.port));
    }

    fn command(&self, action: &str) -> Command {
        let jars: PathBuf = target_dir().join("services").join("kafka");
        let mut command = Command::new("bash");
        command
            .arg(crate_dir().join("services").join("kafka.sh"))
            .arg(action)
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_CONTROLLER_PORT", self.controller_port.to_string())
            .env("TEMPER_SERVICES_DIR", self.dir.path())
            .env("KAFKA_JARS_DIR", jars);
        command
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        let _ = self.command("stop").output();
    }
}
