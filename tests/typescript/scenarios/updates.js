// Workflow updates through the TypeScript SDK: an accepted update, one its
// validator rejects (no trace in history), one waited on until accepted and
// then completed, and update-with-start.
'use strict';

const { WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateStage } = require('@temporalio/client');
const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'updates', {}, async (client, taskQueue) => {
    const handle = await client.workflow.start('counterWorkflow', { taskQueue, workflowId: newId('ts-update-wf') });
    checkEq(await handle.executeUpdate('add', { args: [5] }), 5, 'an accepted update');
    const before = eventTypes(await handle.fetchHistory());
    try {
      await handle.executeUpdate('add', { args: [-1] });
      check(false, 'the validator let a negative amount through');
    } catch (error) {
      check(error instanceof WorkflowUpdateFailedError, `rejected with ${error}`);
      log(`rejected as expected: ${error.cause && error.cause.message}`);
    }
    checkEq(eventTypes(await handle.fetchHistory()), before, 'history after a rejected update');
    const slow = await handle.startUpdate('addSlowly', { args: [3], waitForStage: WorkflowUpdateStage.ACCEPTED });
    checkEq(await slow.result(), 8, 'the slow update, once completed');
    await handle.signal('done');
    checkEq(await handle.result(), 8, "the workflow's result");

    const startOperation = new WithStartWorkflowOperation('counterWorkflow', {
      workflowId: newId('ts-update-with-start-wf'),
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    checkEq(await client.workflow.executeUpdateWithStart('add', { args: [7], startWorkflowOperation: startOperation }), 7, 'update-with-start');
    const started = await startOperation.workflowHandle();
    await started.signal('done');
    checkEq(await started.result(), 7, 'the workflow started with an update');
  });
}

runScenario(main, 'workflow updates');
