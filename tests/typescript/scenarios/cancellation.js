// A workflow waiting on a long timer is cancelled; it runs a cleanup
// activity in a non-cancellable scope, then ends as cancelled.
'use strict';

const { WorkflowFailedError } = require('@temporalio/client');
const { CancelledFailure } = require('@temporalio/common');
const { check, checkEq, eventTypes, newId, runScenario, withWorker } = require('./_common');

const cleanedUp = [];

const activities = {
  async cleanUp(name) {
    cleanedUp.push(name);
  },
};

async function main(args) {
  await withWorker(args, 'cancellation', activities, async (client, taskQueue) => {
    const workflowId = newId('ts-cancellation-wf');
    const handle = await client.workflow.start('cancellableWorkflow', { args: [workflowId], taskQueue, workflowId });
    // Cancelled once the workflow waits on its timer.
    for (let tries = 0; !eventTypes(await handle.fetchHistory()).includes('TimerStarted'); tries += 1) {
      check(tries < 200, 'the workflow never started its timer');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await handle.cancel();
    let failure = null;
    try {
      await handle.result();
    } catch (error) {
      failure = error;
    }
    check(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure, `the result is a cancellation: ${failure}`);
    const types = eventTypes(await handle.fetchHistory());
    for (const type of ['WorkflowExecutionCancelRequested', 'TimerCanceled', 'ActivityTaskCompleted', 'WorkflowExecutionCanceled']) {
      check(types.includes(type), `${type} in ${types}`);
    }
    checkEq(types[types.length - 1], 'WorkflowExecutionCanceled', 'last history event');
    checkEq(cleanedUp, [workflowId], 'cleanups run');
  });
}

runScenario(main, 'a cancelled workflow cleans up, then ends as cancelled');
