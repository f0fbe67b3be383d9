//! Traces, exported over OTLP (gRPC) to Jaeger or any OpenTelemetry
//! collector. Off unless an endpoint is configured: `tracing.otlp_endpoint`
//! in the config file, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`OTEL_SERVICE_NAME` names the service, `OTEL_TRACES_SAMPLER_ARG` sets
//! the sampled ratio of new traces).
//!
//! Each gRPC call gets a server span. Its parent is the caller's: a W3C
//! `traceparent` in the call's metadata, or else the trace context the
//! SDKs' tracing interceptors put in a workflow's header (`_tracer-data`,
//! Python's `TracingInterceptor` and TypeScript's OpenTelemetry interceptor),
//! so the user's client span, Temper's spans and their worker's spans make
//! one trace. The command log carries the context on to the engine
//! (`temper_engine::traces`).
//!
//! Spans are exported in batches from a bounded queue on a thread of the
//! SDK's own: a full queue drops spans (the SDK counts them and reports the
//! count at shutdown) rather than slowing a request.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::global;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};
use temper_engine::traces::tracer;
use temper_proto::api::common::v1::Header;
use temper_proto::api::workflowservice::v1::{
    QueryWorkflowRequest, SignalWithStartWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest, UpdateWorkflowExecutionRequest,
};
use tonic::metadata::MetadataMap;

/// Spans waiting for export, at most; more are dropped.
const MAX_QUEUED_SPANS: usize = 8192;

/// The workflow header field the SDKs' tracing interceptors write.
const SDK_TRACE_HEADER: &str = "_tracer-data";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Where traces go, and how many.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingSettings {
    /// The OTLP/gRPC endpoint (`http://jaeger:4317`); `None` turns tracing off.
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    /// The share of new traces recorded, 0 to 1; a request that arrives
    /// in a trace follows its caller's decision.
    pub sample_ratio: f64,
}

impl TracingSettings {
    pub const DEFAULT_SERVICE_NAME: &str = "temper";

    /// Settings from what is given, defaulted; refuses a ratio outside 0 to 1.
    pub fn new(otlp_endpoint: Option<String>, service_name: Option<String>, sample_ratio: Option<f64>) -> Result<TracingSettings, String> {
        let sample_ratio = sample_ratio.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sample_ratio) {
            return Err(format!("the trace sample ratio is {sample_ratio}; it must be from 0 to 1"));
        }
        Ok(TracingSettings {
            otlp_endpoint: otlp_endpoint.filter(|endpoint| !endpoint.is_empty()),
            service_name: service_name.filter(|name| !name.is_empty()).unwrap_or_else(|| Self::DEFAULT_SERVICE_NAME.to_string()),
            sample_ratio,
        })
    }

    /// What the standard OpenTelemetry variables ask for (`start-dev`).
    pub fn from_environment() -> Result<TracingSettings, String> {
        let variables = TracingVariables::read(|name| std::env::var(name).ok())?;
        Self::new(variables.otlp_endpoint, variables.service_name, variables.sample_ratio)
    }

    pub fn off() -> TracingSettings {
        TracingSettings { otlp_endpoint: None, service_name: Self::DEFAULT_SERVICE_NAME.to_string(), sample_ratio: 1.0 }
    }
}

/// The standard OpenTelemetry variables Temper reads, each `None` when unset.
#[derive(Debug, Default, PartialEq)]
pub struct TracingVariables {
    pub otlp_endpoint: Option<String>,
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
}

impl TracingVariables {
    pub fn read(variable: impl Fn(&str) -> Option<String>) -> Result<TracingVariables, String> {
        let set = |name: &str| variable(name).filter(|value| !value.is_empty());
        let sample_ratio = set("OTEL_TRACES_SAMPLER_ARG")
            .map(|text| text.trim().parse::<f64>().map_err(|_| format!("OTEL_TRACES_SAMPLER_ARG `{text}` is not a number from 0 to 1")))
            .transpose()?;
        Ok(TracingVariables {
            otlp_endpoint: set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT")),
            service_name: set("OTEL_SERVICE_NAME"),
            sample_ratio,
        })
    }
}

/// Installs the exporter `settings` ask for; the returned provider flushes
/// what is queued when shut down. Must run inside the Tokio runtime (the
/// exporter's gRPC channel lives there).
pub fn start(settings: &TracingSettings, roles: &str) -> Result<Option<SdkTracerProvider>, String> {
    let Some(endpoint) = &settings.otlp_endpoint else { return Ok(None) };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|error| format!("the OTLP exporter for {endpoint} cannot be built: {error}"))?;
    let batches = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(MAX_QUEUED_SPANS).build())
        .build();
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("temper.roles", roles.to_string()))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio.clamp(0.0, 1.0)))))
        .with_resource(resource)
        .build();
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some(provider))
}

/// The context a call runs in: its server span, child of the caller's
/// context, or `None` while tracing is off.
pub fn call_context(service: &str, operation: &str, metadata: &MetadataMap, request: &dyn Any) -> Option<Context> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let parent = remote_parent(metadata).or_else(|| workflow_header_of(request).and_then(sdk_header_parent)).unwrap_or_default();
    let tracer = tracer();
    let span = tracer
        .span_builder(format!("{service}/{operation}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service.to_string()),
            KeyValue::new("rpc.method", operation.to_string()),
        ])
        .start_with_context(&tracer, &parent);
    Some(parent.with_span(span))
}

fn remote_parent(metadata: &MetadataMap) -> Option<Context> {
    let context = global::get_text_map_propagator(|propagator| propagator.extract(&MetadataCarrier(metadata)));
    context.span().span_context().is_valid().then_some(context)
}

/// The workflow header of the requests that carry one.
fn workflow_header_of(request: &dyn Any) -> Option<&Header> {
    if let Some(start) = request.downcast_ref::<StartWorkflowExecutionRequest>() {
        return start.header.as_ref();
    }
    if let Some(signal) = request.downcast_ref::<SignalWorkflowExecutionRequest>() {
        return signal.header.as_ref();
    }
    if let Some(signal_with_start) = request.downcast_ref::<SignalWithStartWorkflowExecutionRequest>() {
        return signal_with_start.header.as_ref();
    }
    if let Some(query) = request.downcast_ref::<QueryWorkflowRequest>() {
        return query.query.as_ref().and_then(|query| query.header.as_ref());
    }
    if let Some(update) = request.downcast_ref::<UpdateWorkflowExecutionRequest>() {
        return update.request.as_ref().and_then(|request| request.input.as_ref()).and_then(|input| input.header.as_ref());
    }
    None
}

/// The context in an SDK's `_tracer-data` header: a JSON object of W3C
/// headers, as a JSON payload.
fn sdk_header_parent(header: &Header) -> Option<Context> {
    let payload = header.fields.get(SDK_TRACE_HEADER)?;
    let carrier: HashMap<String, String> = serde_json::from_slice(&payload.data).ok()?;
    temper_engine::traces::context_from(&carrier)
}

struct MetadataCarrier<'a>(&'a MetadataMap);

impl Extractor for MetadataCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => Some(key.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// `start_workflow_execution` -> `StartWorkflowExecution`, the RPC's name.
pub fn operation_name(method: &str) -> String {
    method
        .split('_')
        .map(|word| {
            let mut letters = word.chars();
            letters.next().map(|first| first.to_ascii_uppercase().to_string() + letters.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use temper_proto::api::common::v1::Payload;

    #[test]
    fn method_names_become_rpc_names() {
        assert_eq!(operation_name("start_workflow_execution"), "StartWorkflowExecution");
        assert_eq!(operation_name("get_system_info"), "GetSystemInfo");
    }

    #[test]
    fn the_sdk_trace_header_gives_the_parent() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let header = Header {
            fields: [(SDK_TRACE_HEADER.to_string(), Payload { data: format!(r#"{{"traceparent":"{traceparent}"}}"#).into_bytes(), ..Default::default() })]
                .into(),
        };
        let request = StartWorkflowExecutionRequest { header: Some(header), ..Default::default() };
        let parent = workflow_header_of(&request).and_then(sdk_header_parent).expect("a parent");
        assert_eq!(parent.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
        let no_header = StartWorkflowExecutionRequest::default();
        assert!(workflow_header_of(&no_header).and_then(sdk_header_parent).is_none());
    }
}
