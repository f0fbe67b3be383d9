//! Traces in a real Jaeger (v2, built by `tests/services/jaeger.sh`): one
//! workflow started through the official Python SDK with its
//! TracingInterceptor (or the TypeScript SDK with its OpenTelemetry plugin,
//! `tracing.js`) makes one trace holding the client's span, Temper's
//! gateway span for the call, the command's append to the log, the engine's
//! apply and commit, and the worker's spans, each under the right parent
//! (`tracing.py` checks the trace). In the cluster, the gateway's spans and
//! the engine's come from different processes, joined through the trace
//! context the command carries in the log.
//!
//! Temper-only: Temporal's dev server does not export traces.

use temper_tests::cluster::Cluster;
use temper_tests::{ServerKind, TestServer, crate_dir, run_or_panic, run_python, run_typescript, start_cassandra_and_kafka, temper_for_cassandra_tests};

/// The shared Jaeger's OTLP gRPC endpoint and query API (the script's default ports).
const OTLP_ENDPOINT: &str = "http://127.0.0.1:4317";
const JAEGER_QUERY: &str = "http://127.0.0.1:16686";

fn start_jaeger() {
    run_or_panic(std::process::Command::new("bash").arg(crate_dir().join("services/jaeger.sh")).arg("start"), "starting Jaeger");
}

/// A service name no other test run uses, so the trace's spans are this test's.
fn service_name(label: &str) -> String {
    format!("temper-{label}-{}", std::process::id())
}

/// A `start-dev` server exporting its spans to the shared Jaeger under a
/// service name of its own; `None` against Temporal's dev server, which
/// exports no traces.
fn traced_dev_server(label: &str) -> Option<(TestServer, String)> {
    if matches!(ServerKind::detect(), ServerKind::Temporal) {
        eprintln!("skipped: Temporal's dev server exports no traces");
        return None;
    }
    start_jaeger();
    let service = service_name(label);
    let server = TestServer::start_with_env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", OTLP_ENDPOINT), ("OTEL_SERVICE_NAME", &service)]);
    Some((server, service))
}

fn run_traced_workflow(address: &str, server_service: &str, engine_service: Option<&str>) {
    let mut args = vec!["--address", address, "--otlp-endpoint", OTLP_ENDPOINT, "--jaeger-query", JAEGER_QUERY, "--server-service", server_service];
    if let Some(engine_service) = engine_service {
        args.extend(["--separate-engine-service", engine_service]);
    }
    run_python("tracing.py", &args);
}

#[test]
fn one_trace_runs_from_the_sdk_client_through_temper_to_the_worker() {
    let Some((server, service)) = traced_dev_server("dev") else { return };
    run_traced_workflow(&server.address(), &service, None);
}

#[test]
fn the_typescript_sdk_trace_runs_through_temper_too() {
    let Some((server, service)) = traced_dev_server("dev-ts") else { return };
    let address = server.address();
    run_typescript(
        "tracing.js",
        &["--address", &address, "--otlp-endpoint", OTLP_ENDPOINT, "--jaeger-query", JAEGER_QUERY, "--server-service", &service],
    );
}

#[test]
fn in_a_cluster_the_engine_spans_come_from_the_engine_process() {
    let Some(temper) = temper_for_cassandra_tests() else { return };
    start_jaeger();
    let (cassandra, kafka) = start_cassandra_and_kafka();
    let gateway_service = service_name("gateway");
    let engine_service = service_name("engine");
    let env = |role: &str| {
        let service = if role == "engine" { engine_service.clone() } else { gateway_service.clone() };
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), OTLP_ENDPOINT.to_string()), ("OTEL_SERVICE_NAME".to_string(), service)]
    };
    let cluster = Cluster::start_with_env(&temper, "tracing", 1, 1, &cassandra, &kafka, env);
    let gateway = cluster.gateways[0].address();
    run_traced_workflow(&gateway, &gateway_service, Some(&engine_service));
}
