// Activities that return without a result (CompleteAsyncError) are
// heartbeated and completed from a separate client, by task token and by
// workflow and activity id; an id that is not running answers NOT_FOUND.
'use strict';

const { CompleteAsyncError, Context } = require('@temporalio/activity');
const { ActivityNotFoundError } = require('@temporalio/client');
const { check, checkEq, connectClient, eventTypes, newId, runScenario, withWorker } = require('./_common');

const tokens = new Map();

const activities = {
  async waitOutside(name) {
    tokens.set(name, Context.current().info.taskToken);
    throw new CompleteAsyncError();
  },
};

async function untilWaiting(name) {
  for (let tries = 0; !tokens.has(name); tries += 1) {
    check(tries < 400, `activity ${name} never started`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(args) {
  // The completions come from another client, as from another process.
  const outside = await connectClient(args);
  await withWorker(args, 'async-completion', activities, async (client, taskQueue) => {
    const workflowId = newId('ts-async-completion-wf');
    const handle = await client.workflow.start('asyncCompletionWorkflow', { taskQueue, workflowId });

    await untilWaiting('by-token');
    await outside.activity.heartbeat(tokens.get('by-token'), 'halfway');
    await outside.activity.complete(tokens.get('by-token'), 'done by token');

    await untilWaiting('by-id');
    const byId = { workflowId, activityId: 'by-id' };
    await outside.activity.heartbeat(byId, 'halfway');
    await outside.activity.complete(byId, 'done by id');
    let missing = null;
    try {
      await outside.activity.complete(byId, 'twice');
    } catch (error) {
      missing = error;
    }
    check(missing instanceof ActivityNotFoundError, `completing it twice is refused as not found: ${missing}`);

    checkEq(await handle.result(), ['done by token', 'done by id'], 'workflow result');
    const types = eventTypes(await handle.fetchHistory());
    checkEq(types.filter((type) => type === 'ActivityTaskCompleted').length, 2, `ActivityTaskCompleted events in ${types}`);
  });
}

runScenario(main, 'activities completed from outside the worker, by token and by id');
