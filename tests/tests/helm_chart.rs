//! The Helm chart (`helm/temper`), with helm built by tests/services/helm.sh
//! and manifests validated offline by `kubernetes-validate` (from the test
//! venv) against Kubernetes 1.30's schemas in strict mode:
//!
//! 1. `helm lint`, then `helm template` with the default values and with
//!    `helm/examples/production-values.yaml`: both validate; three
//!    Deployments run `temper server start` with their own `--role`, probe
//!    grpc.health on the gRPC port, run as non-root on a read-only root
//!    filesystem; the config file in the ConfigMap holds what the values say
//!    and Temper's own parser reads all of it (`temper schema update
//!    --config` gets as far as connecting); a fourth Deployment runs
//!    Temporal's Web UI (`temporalio/ui`) against the API Service, with the
//!    actions Temper does not serve turned off, and `ui.enabled=false`
//!    leaves it out;
//! 2. bad values (negative replicas, no Kafka brokers, a bad port, a
//!    misspelt key, ...) make `helm template` fail naming the value;
//! 3. with `java` (Kafka and Cassandra from tests/services), the rendered
//!    schema Job's command sets up a keyspace and each rendered Deployment's
//!    command starts its role from the rendered config file, until every
//!    process reports SERVING through grpc.health, as the probes ask, and
//!    serves /metrics.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use temper_tests::{
    ServerKind, TestDir, TestServer, crate_dir, free_port, grpc_health_serving, run_or_panic, start_cassandra_and_kafka,
    temper_for_cassandra_tests, venv_dir,
};

const ROLES: [&str; 3] = ["gateway", "engine", "projections"];
/// Where the chart mounts the config file in every container.
const CONFIG_PATH: &str = "/etc/temper/temper.yaml";
const KUBERNETES_VERSION: &str = "1.30.0";

fn repository() -> PathBuf {
    crate_dir().parent().expect("tests/ is inside the repository").to_path_buf()
}

fn chart() -> String {
    repository().join("helm/temper").display().to_string()
}

fn production_values() -> String {
    repository().join("helm/examples/production-values.yaml").display().to_string()
}

/// helm, built once by tests/services/helm.sh (which prints its path).
fn helm() -> PathBuf {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let script = crate_dir().join("services/helm.sh");
        let output = Command::new("bash").arg(&script).output().expect("running tests/services/helm.sh");
        assert!(output.status.success(), "tests/services/helm.sh failed:\n{}", String::from_utf8_lossy(&output.stderr));
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
    .clone()
}

fn run_helm(args: &[&str]) -> Output {
    Command::new(helm()).args(args).output().unwrap_or_else(|e| panic!("running helm {args:?}: {e}"))
}

/// `helm template` of the chart as release `temper` with `values` (flags).
fn template(values: &[&str]) -> String {
    let output = run_helm(&[&["template", "temper", &chart(), "--kube-version", KUBERNETES_VERSION], values].concat());
    assert!(output.status.success(), "helm template {values:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("helm prints UTF-8")
}

/// What `helm template` says when it refuses `values`.
fn template_error(values: &[&str]) -> String {
    let output = run_helm(&[&["template", "temper", &chart()], values].concat());
    assert!(!output.status.success(), "helm template {values:?} should have failed, but rendered:\n{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Validates rendered manifests with kubernetes-validate (strict); returns
/// its report.
fn validate(manifests: &str, dir: &TestDir, name: &str) -> String {
    let file = dir.path().join(name);
    std::fs::write(&file, manifests).expect("writing the manifests");
    let output = Command::new(venv_dir().join("bin/kubernetes-validate"))
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .arg(&file)
        .output()
        .expect("running kubernetes-validate from the test venv");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "kubernetes-validate refused {name}:\n{report}");
    report
}

/// The manifests as JSON values, read by the venv's PyYAML.
fn documents(manifests: &str, dir: &TestDir) -> Vec<Value> {
    yaml_to_json(manifests, dir, "[d for d in yaml.safe_load_all(text) if d]")
        .as_array()
        .expect("a list of documents")
        .clone()
}

fn yaml_to_json(text: &str, dir: &TestDir, expression: &str) -> Value {
    let file = dir.path().join("to-json.yaml");
    std::fs::write(&file, text).expect("writing YAML");
    let program = format!("import json, sys, yaml\ntext = open(sys.argv[1]).read()\nprint(json.dumps({expression}))");
    let output = Command::new(venv_dir().join("bin/python")).args(["-c", &program]).arg(&file).output().expect("running python");
    assert!(output.status.success(), "reading YAML failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("python printed JSON")
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|document| document["kind"] == kind).collect()
}

fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(documents, kind)
        .into_iter()
        .find(|document| document["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} named {name} among the rendered manifests"))
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"].as_array()?.iter().find(|variable| variable["name"] == name)
}

/// What every rendering must hold, whatever the values: three Deployments
/// (replicas as given; `None` where an autoscaler owns them), each running
/// its role with grpc probes on `port`, non-root on a read-only root
/// filesystem, the config file from the ConfigMap, its pod IP advertised;
/// a PodDisruptionBudget per role; the API and metrics Services.
fn check_common(documents: &[Value], replicas: [Option<i64>; 3], port: i64) {
    // The Web UI's Deployment, when there is one, is checked by check_ui.
    let deployments: Vec<&Value> =
        of_kind(documents, "Deployment").into_iter().filter(|deployment| deployment["metadata"]["name"] != "temper-ui").collect();
    assert_eq!(deployments.len(), 3, "three Deployments: {deployments:#?}");
    for (role, replicas) in ROLES.into_iter().zip(replicas) {
        let deployment = named(documents, "Deployment", &format!("temper-{role}"));
        assert_eq!(deployment["spec"]["replicas"].as_i64(), replicas, "{role} replicas");
        assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"], role);
        let pod = &deployment["spec"]["template"]["spec"];
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "{role}: one container");
        let container = &containers[0];
        let args = strings(&container["args"]);
        assert_eq!(args[..6], ["server", "start", "--config", CONFIG_PATH, "--role", role], "{role} args: {args:?}");

        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let probe_spec = container[probe].as_object().unwrap_or_else(|| panic!("{role} has no {probe}"));
            assert_eq!(probe_spec["grpc"]["port"], port, "{role} {probe} asks grpc.health on the gRPC port");
            for handler in ["httpGet", "tcpSocket", "exec"] {
                assert!(!probe_spec.contains_key(handler), "{role} {probe} has {handler} besides grpc");
            }
        }
        let grpc_port = container["ports"].as_array().expect("ports").iter().find(|p| p["name"] == "grpc").expect("a grpc port");
        assert_eq!(grpc_port["containerPort"], port);

        let security = &container["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{role}");
        assert_eq!(security["readOnlyRootFilesystem"], true, "{role}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{role}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{role}");
        assert!(pod["securityContext"]["runAsUser"].as_i64().is_some_and(|user| user > 0), "{role} runs as a non-root user");
        for kind in ["requests", "limits"] {
            let resources = &container["resources"][kind];
            assert!(resources["cpu"].is_string() && resources["memory"].is_string(), "{role} has cpu and memory {kind}: {resources}");
        }

        let mounts = container["volumeMounts"].as_array().expect("volume mounts");
        let volumes = pod["volumes"].as_array().expect("volumes");
        let volume_at = |path: &str| {
            let mount = mounts.iter().find(|mount| mount["mountPath"] == path).unwrap_or_else(|| panic!("{role} mounts nothing at {path}"));
            volumes.iter().find(|volume| volume["name"] == mount["name"]).expect("the mount's volume")
        };
        assert_eq!(volume_at(CONFIG_PATH)["configMap"]["name"], "temper", "{role} reads the ConfigMap's config file");
        assert!(volume_at("/tmp")["emptyDir"].is_object(), "{role} has a writable /tmp");
        assert!(volume_at("/var/lib/temper")["emptyDir"].is_object(), "{role} has a writable data_dir");

        let advertised = env_value(container, "TEMPER_ADVERTISE_ADDRESS").expect("TEMPER_ADVERTISE_ADDRESS");
        assert_eq!(advertised["value"], format!("$(POD_IP):{port}"));
        assert_eq!(env_value(container, "POD_IP").expect("POD_IP")["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");

        let budget = named(documents, "PodDisruptionBudget", &format!("temper-{role}"));
        assert_eq!(budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"], role);
    }
    let api = named(documents, "Service", "temper");
    assert_eq!(api["spec"]["selector"]["app.kubernetes.io/component"], "gateway", "the API Service fronts the gateways");
    assert_eq!(api["spec"]["ports"][0]["targetPort"], "grpc");
    let metrics = named(documents, "Service", "temper-metrics");
    assert_eq!(metrics["spec"]["ports"][0]["port"], 9090);
}

/// The Web UI's Deployment and Service: Temporal's ui-server image with
/// `replicas` pods, pointed at the API Service (`temper:<api_port>`),
/// serving HTTP on 8080 behind a Service on `service_port`, probed on
/// /healthz, non-root on a read-only root filesystem, with the batch,
/// workflow pause and activity command actions turned off. Returns the
/// container.
fn check_ui(documents: &[Value], replicas: i64, api_port: i64, service_port: i64) -> Value {
    let deployment = named(documents, "Deployment", "temper-ui");
    assert_eq!(deployment["spec"]["replicas"], replicas, "ui replicas");
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"], "ui");
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "ui: one container");
    let container = &containers[0];
    assert!(container["image"].as_str().is_some_and(|image| image.starts_with("temporalio/ui:")), "{}", container["image"]);
    let env = |name: &str| env_value(container, name).unwrap_or_else(|| panic!("ui has no {name}"))["value"].clone();
    assert_eq!(env("TEMPORAL_ADDRESS"), format!("temper:{api_port}"), "the UI calls the gateways through the API Service");
    assert_eq!(env("TEMPORAL_UI_PORT"), "8080");
    for disabled in ["TEMPORAL_BATCH_ACTIONS_DISABLED", "TEMPORAL_WORKFLOW_PAUSE_DISABLED", "TEMPORAL_ACTIVITY_COMMANDS_DISABLED"] {
        assert_eq!(env(disabled), "true", "Temper does not serve what {disabled} hides");
    }
    let http = container["ports"].as_array().expect("ports").iter().find(|p| p["name"] == "http").expect("an http port");
    assert_eq!(http["containerPort"], 8080);
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "ui {probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "ui {probe}");
    }
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true, "ui");
    assert_eq!(security["allowPrivilegeEscalation"], false, "ui");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "ui");
    assert!(pod["securityContext"]["runAsUser"].as_i64().is_some_and(|user| user > 0), "ui runs as a non-root user");
    for kind in ["requests", "limits"] {
        let resources = &container["resources"][kind];
        assert!(resources["cpu"].is_string() && resources["memory"].is_string(), "ui has cpu and memory {kind}: {resources}");
    }

    let service = named(documents, "Service", "temper-ui");
    assert_eq!(service["spec"]["selector"]["app.kubernetes.io/component"], "ui", "the UI Service fronts the UI");
    assert_eq!(service["spec"]["ports"][0]["port"], service_port);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    container.clone()
}

/// The config file in the ConfigMap (and, the same, in the schema Job's
/// hook ConfigMap), as text.
fn config_file(documents: &[Value]) -> String {
    let config = named(documents, "ConfigMap", "temper")["data"]["temper.yaml"].as_str().expect("temper.yaml").to_string();
    let hook = named(documents, "ConfigMap", "temper-schema");
    assert_eq!(hook["data"]["temper.yaml"], config.as_str(), "the schema Job reads the servers' config file");
    assert_eq!(hook["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
    config
}

fn schema_job_args(documents: &[Value]) -> Vec<String> {
    let job = named(documents, "Job", "temper-schema");
    assert_eq!(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    strings(&container["args"]).into_iter().map(String::from).collect()
}

/// Temper's own parser reads the whole file (unknown keys anywhere are
/// refused) and the Cassandra section's settings: `temper schema update
/// --config` on it gets as far as connecting, to a port where nothing
/// listens. Returns its error line.
fn temper_reads_config(config: &str, dir: &TestDir, name: &str, environment: &[(&str, &str)]) -> String {
    let ServerKind::Temper(temper) = ServerKind::detect() else {
        return String::from("(not checked against Temporal's server)");
    };
    let file = dir.path().join(name);
    std::fs::write(&file, config).expect("writing the config file");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let output = Command::new(temper)
        .args(["schema", "update", "--config"])
        .arg(&file)
        .args(["--contact-point", &nowhere])
        .envs(environment.iter().copied())
        .output()
        .expect("running temper schema update");
    assert!(!output.status.success(), "nothing listens on {nowhere}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_chart_lints_renders_and_validates_with_default_and_production_values() {
    let started = Instant::now();
    let dir = TestDir::new("helm-chart");
    for values in [vec![], vec!["-f".to_string(), production_values()]] {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let output = run_helm(&[&["lint", "--strict", &chart(), "--kube-version", KUBERNETES_VERSION], values.as_slice()].concat());
        assert!(output.status.success(), "helm lint {values:?}:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }

    // Default values.
    let rendered = template(&[]);
    let report = validate(&rendered, &dir, "default.yaml");
    assert!(!report.contains("WARN"), "{report}");
    let defaults = documents(&rendered, &dir);
    check_common(&defaults, [Some(2), Some(3), Some(1)], 7233);
    assert!(of_kind(&defaults, "HorizontalPodAutoscaler").is_empty() && of_kind(&defaults, "ServiceMonitor").is_empty(), "both off by default");
    let gateway = &named(&defaults, "Deployment", "temper-gateway")["spec"]["template"]["spec"]["containers"][0];
    assert!(env_value(gateway, "OTEL_EXPORTER_OTLP_ENDPOINT").is_none(), "tracing is off by default");
    assert!(env_value(gateway, "TEMPER_CASSANDRA_PASSWORD").is_none(), "no credentials by default");
    assert_eq!(schema_job_args(&defaults)[..4], ["schema", "setup", "--config", CONFIG_PATH]);
    let ui = check_ui(&defaults, 1, 7233, 8080);
    assert_eq!(env_value(&ui, "TEMPORAL_DEFAULT_NAMESPACE").expect("a default namespace")["value"], "default");
    let config = config_file(&defaults);
    let parsed = yaml_to_json(&config, &dir, "yaml.safe_load(text)");
    assert_eq!(parsed["server"]["address"], "0.0.0.0:7233");
    assert_eq!(parsed["server"]["shards"], 16);
    assert_eq!(parsed["persistence"]["store"], "cassandra");
    assert_eq!(parsed["persistence"]["log"], "kafka");
    assert_eq!(parsed["persistence"]["kafka"]["bootstrap_servers"], "kafka:9092");
    assert_eq!(parsed["persistence"]["cassandra"]["contact_points"], serde_json::json!(["cassandra:9042"]));
    assert_eq!(parsed["metrics"]["address"], "0.0.0.0:9090");
    let read = temper_reads_config(&config, &dir, "default-temper.yaml", &[]);
    assert!(read.contains("connecting to Cassandra at 127.0.0.1:") || read.contains("not checked"), "Temper refused the default config: {read}");

    // Production values: scaled roles, an autoscaled gateway, credentials,
    // mutual TLS, tracing and a ServiceMonitor.
    let rendered = template(&["-f", &production_values()]);
    let report = validate(&rendered, &dir, "production.yaml");
    let warnings: Vec<&str> = report.lines().filter(|line| line.contains("WARN")).collect();
    assert!(warnings.iter().all(|line| line.contains("ServiceMonitor")), "only the CRD has no schema to check: {report}");
    let production = documents(&rendered, &dir);
    check_common(&production, [None, Some(6), Some(2)], 7233);
    let autoscaler = named(&production, "HorizontalPodAutoscaler", "temper-gateway");
    assert_eq!(autoscaler["spec"]["scaleTargetRef"]["name"], "temper-gateway");
    assert_eq!(autoscaler["spec"]["maxReplicas"], 12);
    assert_eq!(of_kind(&production, "ServiceMonitor").len(), 1);
    let ui = check_ui(&production, 2, 7233, 8080);
    assert_eq!(env_value(&ui, "TEMPORAL_DEFAULT_NAMESPACE").expect("a default namespace")["value"], "orders");
    for role in ROLES {
        let pod = &named(&production, "Deployment", &format!("temper-{role}"))["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let password = env_value(container, "TEMPER_CASSANDRA_PASSWORD").expect("the password from the Secret");
        assert_eq!(password["valueFrom"]["secretKeyRef"]["name"], "temper-cassandra");
        assert_eq!(env_value(container, "OTEL_EXPORTER_OTLP_ENDPOINT").expect("tracing")["value"], "http://otel-collector.observability:4317");
        assert_eq!(env_value(container, "OTEL_TRACES_SAMPLER_ARG").expect("the sample ratio")["value"], "0.1");
        let tls = pod["volumes"].as_array().unwrap().iter().find(|volume| volume["name"] == "cassandra-tls").expect("the TLS Secret");
        assert_eq!(tls["secret"]["secretName"], "temper-cassandra-tls");
    }
    let config = config_file(&production);
    assert!(!config.contains("password"), "the password stays in its Secret:\n{config}");
    let parsed = yaml_to_json(&config, &dir, "yaml.safe_load(text)");
    assert_eq!(parsed["server"]["shards"], 256);
    assert_eq!(parsed["persistence"]["kafka"]["bootstrap_servers"], "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092");
    assert_eq!(parsed["persistence"]["cassandra"]["tls"]["ca_file"], "/etc/temper/cassandra-tls/ca.crt");
    // Read up to the TLS files, which only exist in the pod.
    let read = temper_reads_config(&config, &dir, "production-temper.yaml", &[("TEMPER_CASSANDRA_USER", "temper"), ("TEMPER_CASSANDRA_PASSWORD", "secret")]);
    assert!(read.contains("/etc/temper/cassandra-tls/ca.crt") || read.contains("not checked"), "Temper refused the production config: {read}");

    // An upgrade migrates the keyspace rather than creating it.
    let upgrade = documents(&template(&["--is-upgrade"]), &dir);
    assert_eq!(schema_job_args(&upgrade)[..2], ["schema", "update"]);
    // Metrics off: no endpoint, no port, no Service.
    let unmetered = documents(&template(&["--set", "metrics.enabled=false"]), &dir);
    assert_eq!(yaml_to_json(&config_file(&unmetered), &dir, "yaml.safe_load(text)")["metrics"]["address"], "");
    assert!(of_kind(&unmetered, "Service").iter().all(|service| service["metadata"]["name"] != "temper-metrics"));
    // The UI follows the API Service's port and serves on its own.
    let moved = documents(&template(&["--set", "service.port=7300", "--set", "ui.service.port=80"]), &dir);
    check_ui(&moved, 1, 7300, 80);
    // UI off: neither its Deployment nor its Service.
    let rendered = template(&["--set", "ui.enabled=false"]);
    validate(&rendered, &dir, "no-ui.yaml");
    let without_ui = documents(&rendered, &dir);
    check_common(&without_ui, [Some(2), Some(3), Some(1)], 7233);
    assert_eq!(of_kind(&without_ui, "Deployment").len(), 3, "only the roles' Deployments");
    assert!(of_kind(&without_ui, "Service").iter().all(|service| service["metadata"]["name"] != "temper-ui"));
    eprintln!("[helm] lint, template and validate: {:.1}s", started.elapsed().as_secs_f64());
}

#[test]
fn bad_values_fail_naming_the_value() {
    let cases: [(&[&str], &str); 15] = [
        (&["--set", "engine.replicas=-1"], "/engine/replicas"),
        (&["--set-json", "kafka.brokers=[]"], "/kafka/brokers"),
        (&["--set", "kafka.brokers=null"], "missing property 'brokers'"),
        (&["--set-json", "cassandra.contactPoints=[]"], "/cassandra/contactPoints"),
        (&["--set", "cassandra.contactPoints[0]=no-port"], "/cassandra/contactPoints/0"),
        (&["--set", "server.port=0"], "/server/port"),
        (&["--set", "metrics.port=70000"], "/metrics/port"),
        (&["--set", "gatewy.replicas=3"], "'gatewy' not allowed"),
        (&["--set", "cluster.lease=soon"], "/cluster/lease"),
        (&["--set", "cassandra.tls.enabled=true"], "cassandra.tls.existingSecret"),
        (&["--set", "cassandra.maxConns=2", "--set", "cassandra.maxConnsPerShard=1"], "cassandra.maxConnsPerShard"),
        (&["--set", "tracing.sampleRatio=2"], "/tracing/sampleRatio"),
        (&["--set", "ui.port=0"], "/ui/port"),
        (&["--set", "ui.image.tag="], "/ui/image/tag"),
        (&["--set", "ui.batchActionsDisabled=maybe"], "/ui/batchActionsDisabled"),
    ];
    for (values, named) in cases {
        let error = template_error(values);
        assert!(error.contains(named), "helm template {values:?} should fail naming {named}, said:\n{error}");
    }
}

#[test]
fn the_rendered_chart_runs_every_role_on_kafka_and_cassandra() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    let (cassandra, kafka) = start_cassandra_and_kafka();
    let run = format!("helm_{}", std::process::id());
    let rendered = template(&[
        "--set-json",
        &format!("kafka.brokers=[\"{kafka}\"]"),
        "--set-json",
        &format!("cassandra.contactPoints=[\"{cassandra}\"]"),
        "--set",
        &format!("cassandra.keyspace={run}"),
        "--set",
        &format!("kafka.topicPrefix={run}-"),
        "--set",
        "kafka.replicationFactor=1",
        "--set",
        "server.shards=4",
    ]);
    let dir = TestDir::new("helm-run");
    let documents = documents(&rendered, &dir);
    // What the pod's mounts and network give it, here: the config file at
    // a path of the test's, the data_dir emptyDir a directory of its own,
    // and (the processes sharing one host) a metrics port of its own.
    let rendered_config = config_file(&documents);
    assert!(rendered_config.contains("address: \"0.0.0.0:9090\""), "{rendered_config}");
    let local_config = |name: &str, metrics: &str| {
        let config = rendered_config
            .replace("data_dir: /var/lib/temper", &format!("data_dir: {}", dir.path().join(name).display()))
            .replace("address: \"0.0.0.0:9090\"", &format!("address: \"{metrics}\""));
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, config).expect("writing the config file");
        path.display().to_string()
    };
    let with_config = |args: Vec<String>, config: &str| -> Vec<String> {
        args.into_iter().map(|arg| if arg == CONFIG_PATH { config.to_string() } else { arg }).collect()
    };

    let job_config = local_config("schema", "");
    run_or_panic(Command::new(&temper).args(with_config(schema_job_args(&documents), &job_config)), "the schema Job's command");
    let processes: Vec<(&str, TestServer)> = ROLES
        .into_iter()
        .map(|role| {
            let config = local_config(role, &format!("127.0.0.1:{}", free_port()));
            let container = &named(&documents, "Deployment", &format!("temper-{role}"))["spec"]["template"]["spec"]["containers"][0];
            let args = with_config(strings(&container["args"]).into_iter().map(String::from).collect(), &config);
            // `server start --config <file>` is the harness's; the rest (role,
            // log level) as rendered. Each listens on a port of its own here.
            assert_eq!(args[..3], ["server", "start", "--config"]);
            let rest: Vec<&str> = args[4..].iter().map(String::as_str).collect();
            (role, TestServer::start_with_config_and_args(&config, &rest))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (role, process) in &processes {
        while !grpc_health_serving(&process.address(), "") {
            assert!(Instant::now() < deadline, "the {role} process never reported SERVING:\n{}", process.output());
            std::thread::sleep(Duration::from_millis(200));
        }
        // Where it says it serves them (the harness may move them to a port of its own).
        let output = process.output();
        let metrics = output
            .split("Metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split("/metrics").next())
            .unwrap_or_else(|| panic!("the {role} process serves no metrics:\n{output}"));
        let scraped = http_get(metrics, "/metrics");
        assert!(scraped.starts_with("HTTP/1.1 200"), "the {role} process's /metrics on {metrics}:\n{scraped}");
    }
}

/// A plain HTTP/1.1 GET; the whole response, headers and all.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("sending the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("reading {address}{path}: {e}"));
    response
}
