//! Spans for traces that follow a request across processes. The gateway
//! stores the W3C trace context of the request that appended a command in
//! the command's record ([`carrier_of_current`]); the engine's spans for the
//! command take it as their parent ([`context_from`]), so a trace shows the
//! client's call, the gateway's, and the engine's apply and commit, even
//! when the engine runs in another process.
//!
//! Without an installed tracer provider (tracing off, the default) the
//! global tracer records nothing and requests carry no context, so the
//! engine starts no span.

use std::collections::HashMap;
use std::time::SystemTime;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

/// The instrumentation scope of Temper's spans.
pub const TRACER_NAME: &str = "temper";

pub fn tracer() -> BoxedTracer {
    global::tracer(TRACER_NAME)
}

/// The current span's context as W3C headers; empty when no span is
/// recording (tracing off, or the trace not sampled).
pub fn carrier_of_current() -> HashMap<String, String> {
    carrier_of(&Context::current())
}

/// `context`'s span as W3C headers; empty unless it is sampled.
pub fn carrier_of(context: &Context) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    if context.span().span_context().is_sampled() {
        global::get_text_map_propagator(|propagator| propagator.inject_context(context, &mut carrier));
    }
    carrier
}

/// Starts a span of `name` now, child of `parent`; the returned context
/// holds it, to end with `context.span().end...()`.
pub fn start_span(parent: &Context, name: &'static str, attributes: Vec<KeyValue>) -> Context {
    let tracer = tracer();
    let span = tracer.span_builder(name).with_kind(SpanKind::Internal).with_attributes(attributes).start_with_context(&tracer, parent);
    parent.with_span(span)
}

/// The context a carrier holds, if it holds one.
pub fn context_from(carrier: &HashMap<String, String>) -> Option<Context> {
    if carrier.is_empty() {
        return None;
    }
    let context = global::get_text_map_propagator(|propagator| propagator.extract(carrier));
    context.span().span_context().is_valid().then_some(context)
}

/// A finished span of `name` from `start` to `end`, child of `parent`.
pub fn record_span(parent: &Context, name: &'static str, start: SystemTime, end: SystemTime, attributes: Vec<KeyValue>) {
    let tracer = tracer();
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Internal)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, parent);
    span.end_with_timestamp(end);
}
