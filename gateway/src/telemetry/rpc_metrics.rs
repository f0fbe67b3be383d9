//! Counts every gRPC call the process answers, by operation (the RPC's
//! name) and, for failures, gRPC status code, and times it:
//! `temporal_service_requests_total`, `temporal_service_errors_total`,
//! `temporal_service_latency_seconds` (Temporal's `service_requests`,
//! `service_errors_*` and `service_latency`). Long polls are timed too, so
//! their latency is how long they waited.

use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use dashmap::DashMap;
use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec};
use temper_engine::metrics::{OTHER_LABEL_VALUE, bounded_label, counter_vec, histogram_vec, latency_buckets};
use tonic::codegen::{Service, http};
use tower_layer::Layer;

static REQUESTS: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec("temporal_service_requests_total", "gRPC calls answered, by operation.", &["operation"]));

static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec("temporal_service_errors_total", "gRPC calls answered with an error, by operation and status code.", &["operation", "status_code"])
});

static LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec("temporal_service_latency_seconds", "Seconds from a gRPC call's arrival to its answer, by operation.", &["operation"], latency_buckets())
});

/// The services whose method names become labels; any other path is counted
/// as `_unknown_`, so made-up paths cannot add labels.
const KNOWN_SERVICES: &[&str] = &[
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
    "grpc.health.v1.Health",
    "temper.v1.Cluster",
    "temper.v1.Visibility",
];

#[derive(Clone, Default)]
pub struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RpcMetrics<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let operation = operation_metrics(request.uri().path());
        let arrived = Instant::now();
        let answering = self.inner.call(request);
        Box::pin(async move {
            let answer = answering.await;
            let status_code = answer.as_ref().ok().and_then(status_code_of);
            operation.record(status_code, arrived);
            answer
        })
    }
}

/// One operation's counters, looked up once: every call pays a map read,
/// not a label lookup per metric.
struct OperationMetrics {
    operation: String,
    requests: IntCounter,
    latency: Histogram,
}

impl OperationMetrics {
    fn record(&self, status_code: Option<i32>, arrived: Instant) {
        self.requests.inc();
        self.latency.observe(arrived.elapsed().as_secs_f64());
        if let Some(code) = status_code.filter(|code| *code != tonic::Code::Ok as i32) {
            ERRORS.with_label_values(&[self.operation.as_str(), status_name(code)]).inc();
        }
    }
}

/// By request path, for paths whose operation has a label of its own; the
/// others (made-up services, methods past the label bound) share the entry
/// of their shared label, so the map is bounded like the labels.
static OPERATIONS: LazyLock<DashMap<String, Arc<OperationMetrics>>> = LazyLock::new(DashMap::new);

fn operation_metrics(path: &str) -> Arc<OperationMetrics> {
    if let Some(known) = OPERATIONS.get(path) {
        return known.clone();
    }
    let operation = operation_of(path);
    // Paths counted under a shared label share its entry too.
    let shared = operation == UNKNOWN_OPERATION || operation == OTHER_LABEL_VALUE;
    let key = if shared { operation.as_str() } else { path };
    OPERATIONS
        .entry(key.to_string())
        .or_insert_with(|| {
            Arc::new(OperationMetrics {
                requests: REQUESTS.with_label_values(&[operation.as_str()]),
                latency: LATENCY.with_label_values(&[operation.as_str()]),
                operation,
            })
        })
        .clone()
}

const UNKNOWN_OPERATION: &str = "_unknown_";

/// `/package.Service/Method` -> `Method`, for the services Temper serves.
fn operation_of(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    match (parts.next(), parts.next()) {
        (Some(service), Some(method)) if KNOWN_SERVICES.contains(&service) => bounded_label("operation", method),
        _ => UNKNOWN_OPERATION.to_string(),
    }
}

/// A failed unary call is answered with its status in the headers (a
/// trailers-only response); a successful one carries its status in the
/// trailers, after the body, so no status header means OK.
fn status_code_of<B>(response: &http::Response<B>) -> Option<i32> {
    response.headers().get("grpc-status").and_then(|value| value.to_str().ok()).and_then(|value| value.parse().ok())
}

fn status_name(code: i32) -> &'static str {
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_only_for_known_services() {
        assert_eq!(operation_of("/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"), "StartWorkflowExecution");
        assert_eq!(operation_of("/made.up.Service/Anything"), "_unknown_");
        assert_eq!(operation_of("/"), "_unknown_");
    }

    #[test]
    fn made_up_paths_share_one_entry() {
        let first = operation_metrics("/made.up.Service/One");
        let second = operation_metrics("/another.Made.Up/Two");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!OPERATIONS.contains_key("/made.up.Service/One"), "made-up paths are not kept");
        let start = operation_metrics("/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution");
        assert_eq!(start.operation, "StartWorkflowExecution");
    }
}
