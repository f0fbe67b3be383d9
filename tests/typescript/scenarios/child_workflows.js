// A parent runs a child to its result and one to its failure, starts an
// abandoned child, cancels a child, and signals another workflow through an
// external handle. The abandoned child outlives its parent; the signalled
// workflow finishes; the parent's history has the child and external events.
'use strict';

const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'children', {}, async (client, taskQueue) => {
    const prefix = newId('ts-child');
    const target = await client.workflow.start('waitingChildWorkflow', { args: ['target'], taskQueue, workflowId: `${prefix}-target` });
    const parent = await client.workflow.start('childrenParentWorkflow', { args: [prefix, target.workflowId], taskQueue, workflowId: `${prefix}-parent` });
    const outcome = await parent.result();
    log(`parent returned ${JSON.stringify(outcome)}`);
    checkEq(outcome.echo, 'HELLO', "a child's result");
    check(String(outcome.failure).includes('asked to fail'), `a child's failure: ${outcome.failure}`);
    checkEq(outcome.cancelled, 'cancelled cleaned up after cancellation', 'a cancelled child');
    checkEq(await target.result(), 'target finished', 'the workflow signalled by the parent');
    const abandoned = client.workflow.getHandle(`${prefix}-abandoned`);
    const description = await abandoned.describe();
    checkEq(description.status.name, 'RUNNING', 'the abandoned child outlives its parent');
    checkEq(description.parentExecution.workflowId, parent.workflowId, "the child's parent");
    await abandoned.signal('finish');
    checkEq(await abandoned.result(), 'abandoned finished', 'the abandoned child, signalled');
    const types = eventTypes(await parent.fetchHistory());
    for (const expected of [
      'ChildWorkflowExecutionCompleted',
      'ChildWorkflowExecutionFailed',
      'RequestCancelExternalWorkflowExecutionInitiated',
      'ExternalWorkflowExecutionCancelRequested',
      'ExternalWorkflowExecutionSignaled',
    ]) {
      check(types.includes(expected), `${expected} in the parent's history: ${types}`);
    }
  });
}

runScenario(main, 'child workflows and external signals');
