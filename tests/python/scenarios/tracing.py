"""One trace from the user's client through Temper to their worker, in Jaeger.

The client and worker use the official SDK's TracingInterceptor and export
their spans over OTLP to Jaeger (--otlp-endpoint); Temper exports its own
there too (the test starts it with OTEL_EXPORTER_OTLP_ENDPOINT). After one
workflow with an activity, Jaeger's query API (--jaeger-query) must show one
trace holding, correctly parented:

  StartWorkflow:TracedWorkflow                  the client's span (SDK)
    .../WorkflowService/StartWorkflowExecution  Temper's gateway, service --server-service
      log.append                                the command's append to the log
      engine.apply (temper.command=StartWorkflow)
        store.get_current_run                   its read of the workflow's current run
        outbox.publish                          its task and summary appended to the logs
        matching.dispatch                       its first workflow task handed to the worker
        projection.apply                        its summary applied to the visibility index
      engine.commit
    RunWorkflow:TracedWorkflow                  the worker's span (SDK)
      StartActivity:traced_greeting
        RunActivity:traced_greeting

With --separate-engine-service, the engine's spans (apply, commit, outbox)
must come from that service (another process of a cluster), and the
gateway's and projections' from --server-service.
"""

import asyncio
import json
import time
import urllib.request
from datetime import timedelta

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Worker

from _common import check, check_eq, log, new_id, run_scenario

START_RPC = "temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"


@activity.defn(name="traced_greeting")
async def traced_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn(name="TracedWorkflow")
class TracedWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            traced_greeting, name, start_to_close_timeout=timedelta(seconds=10)
        )


def fetch_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def trace_of(query: str, client_service: str, trace_id: str):
    body = fetch_json(f"{query}/api/traces/{trace_id}")
    traces = body.get("data") or []
    return traces[0] if traces else None


class Spans:
    """A Jaeger trace's spans, by operation, with their parents and services."""

    def __init__(self, found) -> None:
        self.spans = found["spans"]
        self.services = {pid: process["serviceName"] for pid, process in found["processes"].items()}
        self.by_id = {span["spanID"]: span for span in self.spans}

    def named(self, operation: str, **tags):
        matching = [
            span for span in self.spans
            if span["operationName"] == operation
            and all(self.tag(span, key) == value for key, value in tags.items())
        ]
        return matching

    def one(self, operation: str, **tags):
        matching = self.named(operation, **tags)
        check(len(matching) >= 1, f"no span {operation} {tags} in the trace; it has {self.summary()}")
        return matching[0]

    @staticmethod
    def tag(span, key: str):
        return next((tag["value"] for tag in span.get("tags", []) if tag["key"] == key), None)

    def parent(self, span):
        for reference in span.get("references", []):
            if reference["refType"] == "CHILD_OF":
                return self.by_id.get(reference["spanID"])
        return None

    def service(self, span) -> str:
        return self.services[span["processID"]]

    def summary(self) -> str:
        return ", ".join(sorted(f"{self.service(s)}:{s['operationName']}" for s in self.spans))


def check_child(spans: Spans, child, parent, what: str) -> None:
    actual = spans.parent(child)
    check(
        actual is not None and actual["spanID"] == parent["spanID"],
        f"{what}: parent is {actual and actual['operationName']}, expected {parent['operationName']}",
    )


async def main(args) -> None:
    client_service = new_id("temper-test-client")
    provider = TracerProvider(resource=Resource.create({"service.name": client_service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.otlp_endpoint, insecure=True)))
    tracer = provider.get_tracer("tracing.py")
    client = await Client.connect(
        args.address, namespace=args.namespace, interceptors=[TracingInterceptor(tracer)]
    )
    task_queue = new_id("tracing-tq")
    async with Worker(client, task_queue=task_queue, workflows=[TracedWorkflow], activities=[traced_greeting]):
        with tracer.start_as_current_span("user-request") as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            result = await client.execute_workflow(
                TracedWorkflow.run, "Jaeger", id=new_id("tracing-wf"), task_queue=task_queue
            )
    check_eq(result, "Hello, Jaeger!", "the workflow's result")
    provider.force_flush()
    log(f"trace {trace_id}: waiting for every span in Jaeger")

    wanted = [
        "RunActivity:traced_greeting", START_RPC, "engine.apply", "engine.commit", "log.append",
        "outbox.publish", "matching.dispatch", "projection.apply", "store.get_current_run",
    ]
    deadline = time.monotonic() + 30
    while True:
        found = trace_of(args.jaeger_query, client_service, trace_id)
        if found is not None:
            spans = Spans(found)
            names = {span["operationName"] for span in spans.spans}
            if all(name in names for name in wanted):
                break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"trace {trace_id} is incomplete after 30 s: "
                + (Spans(found).summary() if found else "not in Jaeger at all")
            )
        await asyncio.sleep(0.5)
    log(f"the trace holds {spans.summary()}")

    start = spans.one("StartWorkflow:TracedWorkflow")
    check_eq(spans.service(start), client_service, "the client span's service")
    gateway = spans.one(START_RPC)
    check_eq(spans.service(gateway), args.server_service, "the gateway span's service")
    check_eq(spans.tag(gateway, "span.kind"), "server", "the gateway span's kind")
    check_child(spans, gateway, start, "the gateway's StartWorkflowExecution")
    engine_service = args.separate_engine_service or args.server_service
    for operation, tags in [("log.append", {}), ("engine.apply", {"temper.command": "StartWorkflow"}), ("engine.commit", {})]:
        span = spans.one(operation, **tags)
        check_child(spans, span, gateway, operation)
        expected_service = args.server_service if operation == "log.append" else engine_service
        check_eq(spans.service(span), expected_service, f"the service of {operation}")
    apply = spans.one("engine.apply", **{"temper.command": "StartWorkflow"})
    for operation, service in [
        ("store.get_current_run", engine_service),
        ("outbox.publish", engine_service),
        ("matching.dispatch", args.server_service),
        ("projection.apply", args.server_service),
    ]:
        span = spans.one(operation)
        check_child(spans, span, apply, operation)
        check_eq(spans.service(span), service, f"the service of {operation}")
    run = spans.one("RunWorkflow:TracedWorkflow")
    check_child(spans, run, start, "the worker's RunWorkflow")
    run_activity = spans.one("RunActivity:traced_greeting")
    check_child(spans, run_activity, spans.one("StartActivity:traced_greeting"), "the worker's RunActivity")
    provider.shutdown()


def add_arguments(parser) -> None:
    parser.add_argument("--otlp-endpoint", required=True, help="Jaeger's OTLP gRPC endpoint, http://HOST:PORT")
    parser.add_argument("--jaeger-query", required=True, help="Jaeger's query API, http://HOST:PORT")
    parser.add_argument("--server-service", default="temper", help="the service name Temper's gateway reports")
    parser.add_argument("--separate-engine-service", help="the service name of a separate engine process")


if __name__ == "__main__":
    run_scenario(main, "one trace from client through Temper to worker", timeout=90.0, add_arguments=add_arguments)
