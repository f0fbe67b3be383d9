// A workflow cached by a worker that shut down moves on at once: worker A
// handles the first signal (so the run is sticky to A's queue) and shuts
// down; worker B, on the same task queue, gets the next workflow task from
// the normal queue without it waiting out the sticky schedule-to-start
// timeout, so the history has no WorkflowTaskTimedOut.
'use strict';

const { Worker } = require('@temporalio/worker');
const { check, checkEq, connectClient, connectWorker, eventTypes, log, newId, runScenario } = require('./_common');

async function worker(args, taskQueue, identity) {
  return Worker.create({
    connection: await connectWorker(args),
    namespace: args.namespace,
    taskQueue,
    identity,
    workflowsPath: require.resolve('./workflows'),
  });
}

async function main(args) {
  const client = await connectClient(args);
  const taskQueue = newId('ts-sticky-shutdown-tq');
  const workflowId = newId('ts-sticky-shutdown');
  const handle = await (await worker(args, taskQueue, 'worker-a')).runUntil(async () => {
    const started = await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId });
    await started.signal('add', 'a');
    checkEq(await started.query('count'), 1, 'the count after the first signal, from worker A');
    return started;
  });
  log('worker A shut down with the run cached');
  await (await worker(args, taskQueue, 'worker-b')).runUntil(async () => {
    await handle.signal('add', 'b');
    checkEq(await handle.result(), ['a', 'b'], 'the result, completed by worker B');
  });
  const types = eventTypes(await handle.fetchHistory());
  check(!types.includes('WorkflowTaskTimedOut'), `no workflow task waited out a sticky timeout: ${types}`);
  log(`${workflowId}: moved to worker B without a timeout`);
}

runScenario(main, 'a run cached by a worker that shut down moves on at once');
