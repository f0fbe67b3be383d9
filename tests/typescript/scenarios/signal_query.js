// A workflow counts the signals it got, answers a query with the count, and
// completes after the second signal with what the signals carried.
'use strict';

const { checkEq, eventTypes, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'signal-query', {}, async (client, taskQueue) => {
    const handle = await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId: newId('ts-signal-query-wf') });
    await handle.signal('add', 'a');
    checkEq(await handle.query('count'), 1, 'the count after one signal');
    await handle.signal('add', 'b');
    checkEq(await handle.result(), ['a', 'b'], 'workflow result');
    const types = eventTypes(await handle.fetchHistory());
    checkEq(types.filter((type) => type === 'WorkflowExecutionSignaled').length, 2, `signal events in ${types}`);
  });
}

runScenario(main, 'signals reach a workflow and a query reads its state');
