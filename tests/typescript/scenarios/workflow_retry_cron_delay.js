// Workflows that start again: a workflow retried by its retry policy until
// its third attempt succeeds; a cron workflow observed over two runs and then
// terminated; a workflow whose first task waits for a start delay.
'use strict';

const { check, checkEq, log, newId, runScenario, withWorker } = require('./_common');

async function retried(client, taskQueue) {
  const handle = await client.workflow.start('flakyWorkflow', {
    args: [3],
    taskQueue,
    workflowId: newId('ts-retry-wf'),
    retry: { initialInterval: '1s', backoffCoefficient: 1 },
  });
  checkEq(await handle.result(), 3, 'the attempt that succeeded');
  const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
  const failed = first.events[first.events.length - 1].workflowExecutionFailedEventAttributes;
  checkEq(failed.failure.message, 'attempt 1 failed', "the first run's failure");
  check(failed.newExecutionRunId, 'the failed run names its retry');
  log('retried twice, then completed');
}

async function cron(client, taskQueue) {
  const workflowId = newId('ts-cron-wf');
  const handle = await client.workflow.start('countingCronWorkflow', { taskQueue, workflowId, cronSchedule: '@every 2s' });
  const results = [];
  let runId = handle.firstExecutionRunId;
  const deadline = Date.now() + 30000;
  while (results.length < 2) {
    check(Date.now() < deadline, `two cron runs did not complete in 30 s (${results.length} did)`);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const completed = history.events[history.events.length - 1].workflowExecutionCompletedEventAttributes;
    if (!completed) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const started = history.events[0].workflowExecutionStartedEventAttributes;
    checkEq(started.cronSchedule, '@every 2s', 'each run carries the schedule');
    results.push(Buffer.from(completed.result.payloads[0].data).toString());
    runId = completed.newExecutionRunId;
  }
  checkEq(results, ['1', '2'], 'results of the first two runs');
  await client.workflow.getHandle(workflowId).terminate('enough');
  const after = await client.workflow.getHandle(workflowId).describe();
  checkEq(after.status.name, 'TERMINATED', 'the chain stops at a termination');
  log('two cron runs, then terminated');
}

async function delayed(client, taskQueue) {
  const began = Date.now();
  const handle = await client.workflow.start('greetingWorkflow', {
    args: ['later'],
    taskQueue,
    workflowId: newId('ts-delay-wf'),
    startDelay: '2s',
  });
  const description = await handle.describe();
  checkEq(description.executionTime.getTime() - description.startTime.getTime(), 2000, 'execution time - start time');
  await handle.result();
  check(Date.now() - began >= 2000, 'the result came before the start delay ended');
  log(`delayed workflow completed after ${Date.now() - began} ms`);
}

const activities = {
  async composeGreeting(name) {
    return `Hello, ${name}!`;
  },
};

async function main(args) {
  await withWorker(args, 'restarts', activities, async (client, taskQueue) => {
    await retried(client, taskQueue);
    await cron(client, taskQueue);
    await delayed(client, taskQueue);
  });
}

runScenario(main, 'retried, cron and delayed workflows');
