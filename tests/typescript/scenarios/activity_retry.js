// An activity fails twice and succeeds on its third attempt, under the
// workflow's retry policy: the workflow sees only the success, the history
// one scheduled and one completed activity, the activity attempts 1 to 3.
'use strict';

const { Context } = require('@temporalio/activity');
const { checkEq, eventTypes, newId, runScenario, withWorker } = require('./_common');

const attempts = [];

const activities = {
  async failTwiceThenGreet(name) {
    const { attempt } = Context.current().info;
    attempts.push(attempt);
    if (attempt < 3) throw new Error(`attempt ${attempt} fails`);
    return `Hello, ${name}!`;
  },
};

async function main(args) {
  await withWorker(args, 'activity-retry', activities, async (client, taskQueue) => {
    const handle = await client.workflow.start('retryingWorkflow', { args: ['World'], taskQueue, workflowId: newId('ts-activity-retry-wf') });
    checkEq(await handle.result(), 'Hello, World!', 'workflow result');
    const types = eventTypes(await handle.fetchHistory());
    checkEq(types.filter((type) => type.startsWith('ActivityTask')), ['ActivityTaskScheduled', 'ActivityTaskStarted', 'ActivityTaskCompleted'], 'activity events');
  });
  checkEq(attempts, [1, 2, 3], 'attempts the activity saw');
}

runScenario(main, 'an activity fails twice, then succeeds under its retry policy');
