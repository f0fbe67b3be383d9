//! A Temper cluster of separate processes for tests: engines, gateways and
//! a projections process, each `temper server start --config ... --role
//! ...` on a 127.0.0.1 port, over the test Kafka and Cassandra.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{ScenarioProcess, TestDir, TestServer, grpc_health_serving, run_or_panic, start_cassandra_and_kafka};

pub const SHARDS: u32 = 8;
/// Short enough that a dead engine's shards move within the 5 s target.
pub const LEASE: Duration = Duration::from_secs(3);

pub struct Cluster {
    pub gateways: Vec<TestServer>,
    pub engines: Vec<TestServer>,
    pub projections: Vec<TestServer>,
    _dir: TestDir,
}

impl Cluster {
    /// Starts `engines` engine, `gateways` gateway and one projections
    /// process on a keyspace and topics of their own, and waits until the
    /// engines hold every shard.
    pub fn start(temper: &Path, label: &str, engines: usize, gateways: usize) -> Cluster {
        let (cassandra, kafka) = start_cassandra_and_kafka();
        Cluster::start_on(temper, label, engines, gateways, &cassandra, &kafka)
    }

    /// [`Cluster::start`] on the Cassandra at `cassandra` and the Kafka at
    /// `kafka` (bootstrap servers), which must be running.
    pub fn start_on(temper: &Path, label: &str, engines: usize, gateways: usize, cassandra: &str, kafka: &str) -> Cluster {
        Cluster::start_with_env(temper, label, engines, gateways, cassandra, kafka, |_| Vec::new())
    }

    /// [`Cluster::start_on`], each process with the environment variables
    /// `env` gives for its role.
    pub fn start_with_env(
        temper: &Path,
        label: &str,
        engines: usize,
        gateways: usize,
        cassandra: &str,
        kafka: &str,
        env: impl Fn(&str) -> Vec<(String, String)>,
    ) -> Cluster {
        let run = format!("{label}_{}", std::process::id());
        run_or_panic(
            Command::new(temper).args(["schema", "setup", "--keyspace", &run, "--contact-point", cassandra]),
            "temper schema setup",
        );
        let dir = TestDir::new(label);
        let config = dir.path().join("temper.yaml");
        let yaml = format!(
            "server:\n  data_dir: {data}\n  shards: {SHARDS}\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [\"{cassandra}\"]\n    keyspace: {run}\n  log: kafka\n  kafka:\n    bootstrap_servers: {kafka}\n    topic_prefix: {run}-\ncluster:\n  heartbeat_interval: 500ms\n  lease: {lease}s\n",
            data = dir.path().join("unused").display(),
            lease = LEASE.as_secs(),
        );
        std::fs::write(&config, yaml).expect("writing the config file");
        let start = |role: &str| {
            let env = env(role);
            let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
            TestServer::start_with_config_args_and_env(&config, &["--role", role, "--log-level", "info"], &env)
        };
        let cluster = Cluster {
            engines: (0..engines).map(|_| start("engine")).collect(),
            gateways: (0..gateways).map(|_| start("gateway")).collect(),
            projections: vec![start("projections")],
            _dir: dir,
        };
        cluster.wait_until_engines_own_every_shard(Duration::from_secs(60));
        cluster
    }

    /// Client on the first gateway, workers on the last.
    pub fn scenario_args(&self) -> Vec<String> {
        let worker_gateway = self.gateways.last().expect("a gateway");
        ["--address", &self.gateways[0].address(), "--worker-address", &worker_gateway.address(), "--namespace", "default"]
            .map(String::from)
            .to_vec()
    }

    /// `crash_recovery.py` with `count` workflows (activity, timer, activity)
    /// in flight, waiting for the driver to disrupt the cluster (then to
    /// write RESTARTED); returns it with its CRASH_POINT line.
    pub fn workflows_in_flight(&self, count: u32) -> (ScenarioProcess, String) {
        let args = self.scenario_args();
        let count = count.to_string();
        let mut script_args: Vec<&str> = args.iter().map(String::as_str).collect();
        script_args.extend(["--crash-handshake", "--count", &count]);
        let mut scenario = ScenarioProcess::spawn("crash_recovery.py", &script_args);
        let point = scenario.wait_for_line("CRASH_POINT", Duration::from_secs(180));
        (scenario, point)
    }

    pub fn wait_until_engines_own_every_shard(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !engines_ready(&self.engines) {
            assert!(Instant::now() < deadline, "the engines did not take every shard within {within:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether every running engine among `engines` reports itself ready (it
/// holds every shard assigned to it) through grpc.health, as a Kubernetes
/// probe asks.
pub fn engines_ready(engines: &[TestServer]) -> bool {
    engines.iter().all(|engine| grpc_health_serving(&engine.address(), "temper.engine"))
}

/// How many times an engine's output says it took a shard.
pub fn shards_taken(output: &str) -> usize {
    output.lines().filter(|line| line.contains("shard acquired")).count()
}
