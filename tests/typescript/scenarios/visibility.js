// Listing and counting workflows with the list filter language through the
// TypeScript SDK: a workflow is listed right after its start returns and
// as completed right after its result returns; filters, ORDER BY, count
// with GROUP BY ExecutionStatus, and a malformed query refused with
// INVALID_ARGUMENT naming the position.
'use strict';

const { check, checkEq, newId, runScenario, withWorker } = require('./_common');

async function idsOf(client, query) {
  const ids = [];
  for await (const execution of client.workflow.list({ query })) {
    ids.push(execution.workflowId);
  }
  return ids;
}

async function main(args) {
  await withWorker(args, 'visibility', {}, async (client, taskQueue) => {
    const prefix = newId('ts-visibility');
    const done = [`${prefix}-done-0`, `${prefix}-done-1`];
    for (const workflowId of done) {
      const handle = await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId });
      checkEq(await idsOf(client, `WorkflowId = '${workflowId}'`), [workflowId], 'listed right after the start returned');
      await handle.signal('add', 'a');
      await handle.signal('add', 'b');
      await handle.result();
      checkEq(
        await idsOf(client, `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Completed'`),
        [workflowId],
        'listed as completed right after the result returned',
      );
    }
    const waiting = `${prefix}-wait-0`;
    await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId: waiting });
    const mine = `WorkflowId STARTS_WITH '${prefix}-'`;
    checkEq(await idsOf(client, `${mine} ORDER BY StartTime ASC`), [...done, waiting], 'ORDER BY StartTime ASC');
    checkEq(await idsOf(client, `${mine} AND ExecutionStatus = 'Running'`), [waiting], 'running ones');
    checkEq(await idsOf(client, `${mine} AND CloseTime IS NOT NULL ORDER BY WorkflowId DESC`), [...done].reverse(), 'closed ones');
    checkEq((await client.workflow.count(mine)).count, 3, 'count');
    const grouped = await client.workflow.count(`${mine} GROUP BY ExecutionStatus`);
    const groups = Object.fromEntries(grouped.groups.map((group) => [group.groupValues[0], group.count]).sort());
    checkEq(groups, { Completed: 2, Running: 1 }, 'count GROUP BY ExecutionStatus');
    let refused = null;
    try {
      await idsOf(client, `WorkflowId = '${waiting}' AND`);
    } catch (error) {
      refused = error;
    }
    check(refused !== null, 'a malformed query is refused');
    const messages = [];
    for (let error = refused; error; error = error.cause) messages.push(String(error.message));
    check(messages.some((message) => message.includes('INVALID_ARGUMENT') || message.includes('Invalid query')), `refused as invalid: ${messages}`);
    check(messages.some((message) => message.includes('position')), `the error names the position: ${messages}`);
    await client.workflow.getHandle(waiting).terminate('done listing');
  });
}

runScenario(main, 'listing and counting workflows with the list filter language');
