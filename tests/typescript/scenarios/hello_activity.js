// A workflow executes one activity, with only start-to-close set, and
// returns its result: the activity task carries the timeouts the server
// filled in, which the TypeScript SDK requires.
'use strict';

const { Context } = require('@temporalio/activity');
const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

const seenByActivity = [];

const activities = {
  async composeGreeting(name) {
    const { info } = Context.current();
    seenByActivity.push({ startToCloseTimeoutMs: info.startToCloseTimeoutMs, scheduleToCloseTimeoutMs: info.scheduleToCloseTimeoutMs });
    return `Hello, ${name}!`;
  },
};

async function main(args) {
  await withWorker(args, 'hello-activity', activities, async (client, taskQueue) => {
    const workflowId = newId('ts-hello-activity-wf');
    const handle = await client.workflow.start('greetingWorkflow', { args: ['World'], taskQueue, workflowId });
    const result = await handle.result();
    log(`workflow ${workflowId} returned ${JSON.stringify(result)}`);
    checkEq(result, 'Hello, World!', 'workflow result');
    const types = eventTypes(await handle.fetchHistory());
    checkEq(types[0], 'WorkflowExecutionStarted', 'first history event');
    checkEq(types[types.length - 1], 'WorkflowExecutionCompleted', 'last history event');
    checkEq(types.filter((type) => type === 'ActivityTaskCompleted').length, 1, `ActivityTaskCompleted events in ${types}`);
  });
  checkEq(seenByActivity.length, 1, 'activity executions');
  checkEq(seenByActivity[0].startToCloseTimeoutMs, 10000, "the activity's start-to-close");
  check(seenByActivity[0].scheduleToCloseTimeoutMs !== undefined, "the activity's schedule-to-close is known");
}

runScenario(main, 'a workflow executes one activity with default timeouts and returns its result');
