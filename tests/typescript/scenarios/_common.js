// What every TypeScript scenario shares: its command line (--address,
// --worker-address, --namespace), connections, checks that fail the
// scenario with a message, and unique ids. A scenario exports `main(args)`
// and ends with `runScenario(main, description)`.
'use strict';

const { Connection, Client } = require('@temporalio/client');
const { NativeConnection } = require('@temporalio/worker');

/** The common flags, and the scenario's own (`flags`: their names, like
 * `--jaeger-query`), kept in `args.options` by name. */
function parseArgs(argv, flags = []) {
  const args = { address: '127.0.0.1:7233', workerAddress: null, namespace: 'default', options: {} };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--address') args.address = value;
    else if (flag === '--worker-address') args.workerAddress = value;
    else if (flag === '--namespace') args.namespace = value;
    else if (flags.includes(flag)) args.options[flag] = value;
    else throw new Error(`unknown argument ${flag}`);
  }
  args.workerAddress = args.workerAddress || args.address;
  return args;
}

async function connectClient(args, plugins = []) {
  const connection = await Connection.connect({ address: args.address });
  return new Client({ connection, namespace: args.namespace, plugins });
}

/** The worker's own connection, to --worker-address (another gateway of a cluster). */
async function connectWorker(args) {
  return NativeConnection.connect({ address: args.workerAddress });
}

/**
 * Runs `fn(client, taskQueue)` while a worker polls a new task queue with
 * every scenario workflow and the given activities. With `shareConnection`
 * the client uses the worker's connection, as eager workflow start needs.
 */
async function withWorker(args, name, activities, fn, { shareConnection = false, plugins = [] } = {}) {
  const { Worker } = require('@temporalio/worker');
  const workerConnection = await connectWorker(args);
  const client = shareConnection
    ? new Client({ connection: workerConnection, namespace: args.namespace, plugins })
    : await connectClient(args, plugins);
  const taskQueue = newId(`ts-${name}-tq`);
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: args.namespace,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities,
    plugins,
  });
  await worker.runUntil(() => fn(client, taskQueue));
}

class ScenarioFailure extends Error {}

function check(condition, message) {
  if (!condition) throw new ScenarioFailure(message);
}

function checkEq(actual, expected, what) {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

let counter = 0;
function newId(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}`;
}

function log(message) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Event type names without the EVENT_TYPE_ prefix, in CamelCase like Python's scenarios. */
function eventTypes(history) {
  const { temporal } = require('@temporalio/proto');
  const names = temporal.api.enums.v1.EventType;
  return history.events.map((event) =>
    names[event.eventType]
      .replace(/^EVENT_TYPE_/, '')
      .toLowerCase()
      .replace(/(^|_)([a-z])/g, (_, __, letter) => letter.toUpperCase()),
  );
}

function runScenario(main, description, { flags = [] } = {}) {
  const args = parseArgs(process.argv.slice(2), flags);
  const script = require('path').basename(require.main.filename);
  log(`${script}: ${description} (server ${args.address}, namespace ${args.namespace})`);
  const started = Date.now();
  main(args).then(
    () => {
      log(`PASS ${script} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      process.exit(0);
    },
    (error) => {
      log(`FAIL ${script}: ${error instanceof ScenarioFailure ? error.message : error.stack || error}`);
      process.exit(1);
    },
  );
}

module.exports = { check, checkEq, connectClient, connectWorker, eventTypes, log, newId, runScenario, withWorker };
