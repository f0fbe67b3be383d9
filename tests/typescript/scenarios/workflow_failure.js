// A workflow throws a non-retryable application failure: the client gets it
// with its type and message, and the run ends as failed.
'use strict';

const { WorkflowFailedError } = require('@temporalio/client');
const { ApplicationFailure } = require('@temporalio/common');
const { check, checkEq, eventTypes, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'workflow-failure', {}, async (client, taskQueue) => {
    const handle = await client.workflow.start('failingWorkflow', { args: ['out of order'], taskQueue, workflowId: newId('ts-workflow-failure-wf') });
    let failure = null;
    try {
      await handle.result();
    } catch (error) {
      failure = error;
    }
    check(failure instanceof WorkflowFailedError, `the result is a workflow failure: ${failure}`);
    check(failure.cause instanceof ApplicationFailure, `caused by an application failure: ${failure.cause}`);
    checkEq([failure.cause.type, failure.cause.message, failure.cause.nonRetryable], ['Broken', 'out of order', true], 'the failure');
    const types = eventTypes(await handle.fetchHistory());
    checkEq(types[types.length - 1], 'WorkflowExecutionFailed', 'last history event');
    const description = await handle.describe();
    checkEq(description.status.name, 'FAILED', 'the described status');
  });
}

runScenario(main, 'a workflow failure reaches the client with its type and message');
