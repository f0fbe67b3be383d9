// ResetWorkflowExecution through the TypeScript SDK's service client: a
// workflow waiting for two signals is reset to its first workflow task
// after the first signal; the old run is terminated, the new run gets the
// first signal again and completes with the second.
'use strict';

const { randomUUID } = require('crypto');
const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'reset', {}, async (client, taskQueue) => {
    const workflowId = newId('ts-reset-wf');
    const handle = await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId });
    const completedTasks = async (count) => {
      const deadline = Date.now() + 20000;
      while (eventTypes(await handle.fetchHistory()).filter((t) => t === 'WorkflowTaskCompleted').length < count) {
        check(Date.now() < deadline, `workflow task ${count} never completed`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // The signal comes after the first workflow task, so that resetting to
    // that task applies it again.
    await completedTasks(1);
    await handle.signal('add', 'a');
    await completedTasks(2);
    const { runId } = await client.workflowService.resetWorkflowExecution({
      namespace: args.namespace,
      workflowExecution: { workflowId, runId: handle.firstExecutionRunId },
      reason: 'again',
      workflowTaskFinishEventId: 4,
      requestId: randomUUID(),
    });
    check(runId && runId !== handle.firstExecutionRunId, `reset answered run ${runId}`);
    const old = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
    checkEq(old.status.name, 'TERMINATED', "the old run's status");
    const types = eventTypes(await client.workflow.getHandle(workflowId, runId).fetchHistory());
    checkEq(types.slice(3, 5), ['WorkflowTaskFailed', 'WorkflowExecutionSignaled'], 'the reset point, then the signal again');
    await client.workflow.getHandle(workflowId).signal('add', 'b');
    const result = await client.workflow.getHandle(workflowId).result();
    checkEq(result, ['a', 'b'], "the reset run's result");
    log('reset to the first workflow task, signal reapplied');
  });
}

runScenario(main, 'reset to the first workflow task');
