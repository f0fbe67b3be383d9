// One trace from the user's client through Temper to their worker, in
// Jaeger, through the official TypeScript SDK's OpenTelemetry plugin
// (@temporalio/interceptors-opentelemetry): the client's StartWorkflow span,
// Temper's gateway span for StartWorkflowExecution under it (service
// --server-service), the command's log.append, engine.apply and
// engine.commit under that, the outbox's publish, matching's dispatch and the
// projection's apply under engine.apply, and the worker's RunWorkflow (under the client's
// span) and RunActivity spans. The twin of tests/python/scenarios/tracing.py.
'use strict';

const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { Resource } = require('@opentelemetry/resources');
const { OpenTelemetryPlugin } = require('@temporalio/interceptors-opentelemetry');
const { check, checkEq, log, newId, runScenario, withWorker } = require('./_common');

const START_RPC = 'temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution';

const activities = {
  async composeGreeting(name) {
    return `Hello, ${name}!`;
  },
};

/** A Jaeger trace's spans by operation, with their parents and services. */
class Spans {
  constructor(trace) {
    this.spans = trace.spans;
    this.services = Object.fromEntries(Object.entries(trace.processes).map(([id, process]) => [id, process.serviceName]));
    this.byId = Object.fromEntries(trace.spans.map((span) => [span.spanID, span]));
  }

  tag(span, key) {
    const found = (span.tags || []).find((tag) => tag.key === key);
    return found === undefined ? undefined : found.value;
  }

  one(operation, tags = {}) {
    const found = this.spans.find(
      (span) => span.operationName === operation && Object.entries(tags).every(([key, value]) => this.tag(span, key) === value),
    );
    check(found !== undefined, `no span ${operation} ${JSON.stringify(tags)} in the trace; it has ${this.summary()}`);
    return found;
  }

  parent(span) {
    const reference = (span.references || []).find((ref) => ref.refType === 'CHILD_OF');
    return reference ? this.byId[reference.spanID] : undefined;
  }

  service(span) {
    return this.services[span.processID];
  }

  summary() {
    return this.spans.map((span) => `${this.service(span)}:${span.operationName}`).sort().join(', ');
  }

  checkChild(child, parent, what) {
    const actual = this.parent(child);
    check(actual !== undefined && actual.spanID === parent.spanID, `${what}: parent is ${actual && actual.operationName}, expected ${parent.operationName}`);
  }
}

async function fetchJson(url) {
  const response = await fetch(url);
  check(response.ok, `${url} answered ${response.status}`);
  return response.json();
}

/** The trace holding the client's StartWorkflow span, once it holds `wanted`. */
async function completeTrace(query, clientService, wanted) {
  const url = `${query}/api/traces?service=${encodeURIComponent(clientService)}&operation=${encodeURIComponent('StartWorkflow:greetingWorkflow')}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    const traces = (await fetchJson(url)).data || [];
    if (traces.length > 0) {
      const spans = new Spans(traces[0]);
      if (wanted.every((name) => spans.spans.some((span) => span.operationName === name))) return spans;
      if (Date.now() > deadline) throw new Error(`the trace is incomplete after 30 s: ${spans.summary()}`);
    } else if (Date.now() > deadline) {
      throw new Error(`no trace of ${clientService} in Jaeger after 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main(args) {
  const otlpEndpoint = args.options['--otlp-endpoint'];
  const jaegerQuery = args.options['--jaeger-query'];
  const serverService = args.options['--server-service'] || 'temper';
  check(otlpEndpoint && jaegerQuery, '--otlp-endpoint and --jaeger-query are required');
  const clientService = newId('temper-test-ts-client');
  const resource = new Resource({ 'service.name': clientService });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint }));
  // Node's provider registers the async context manager and the W3C
  // propagator, without which the client's span would not reach the header.
  const provider = new NodeTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  provider.register();
  const plugin = new OpenTelemetryPlugin({ resource, spanProcessor });

  await withWorker(
    args,
    'tracing',
    activities,
    async (client, taskQueue) => {
      const result = await client.workflow.execute('greetingWorkflow', { args: ['Jaeger'], taskQueue, workflowId: newId('ts-tracing-wf') });
      checkEq(result, 'Hello, Jaeger!', "the workflow's result");
    },
    { plugins: [plugin] },
  );
  await provider.forceFlush();

  const spans = await completeTrace(jaegerQuery, clientService, [
    START_RPC, 'engine.apply', 'engine.commit', 'log.append', 'outbox.publish', 'matching.dispatch', 'projection.apply', 'RunActivity:composeGreeting',
  ]);
  log(`the trace holds ${spans.summary()}`);
  const start = spans.one('StartWorkflow:greetingWorkflow');
  checkEq(spans.service(start), clientService, "the client span's service");
  const gateway = spans.one(START_RPC);
  checkEq(spans.service(gateway), serverService, "the gateway span's service");
  spans.checkChild(gateway, start, "the gateway's StartWorkflowExecution");
  for (const [operation, tags] of [['log.append', {}], ['engine.apply', { 'temper.command': 'StartWorkflow' }], ['engine.commit', {}]]) {
    const span = spans.one(operation, tags);
    spans.checkChild(span, gateway, operation);
    checkEq(spans.service(span), serverService, `the service of ${operation}`);
  }
  const apply = spans.one('engine.apply', { 'temper.command': 'StartWorkflow' });
  for (const operation of ['outbox.publish', 'matching.dispatch', 'projection.apply']) {
    spans.checkChild(spans.one(operation), apply, operation);
  }
  spans.checkChild(spans.one('RunWorkflow:greetingWorkflow'), start, "the worker's RunWorkflow");
  spans.checkChild(spans.one('RunActivity:composeGreeting'), spans.one('StartActivity:composeGreeting'), "the worker's RunActivity");
  await provider.shutdown();
}

runScenario(main, 'one trace from client through Temper to worker, in Jaeger', { flags: ['--otlp-endpoint', '--jaeger-query', '--server-service'] });
