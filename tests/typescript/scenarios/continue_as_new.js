// A workflow continues as new five times: the client's result() follows the
// chain to the last run, whose info names the run it continued from; every
// run's history ends in WorkflowExecutionContinuedAsNew naming the next.
'use strict';

const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

const RUNS = 5;

async function main(args) {
  await withWorker(args, 'continue-as-new', {}, async (client, taskQueue) => {
    const workflowId = newId('ts-can-wf');
    const handle = await client.workflow.start('countdownWorkflow', { args: [RUNS], taskQueue, workflowId });
    const result = await handle.result();
    checkEq(result.counted, [5, 4, 3, 2, 1], 'counters seen by the runs of the chain');
    const runs = [handle.firstExecutionRunId];
    for (;;) {
      const history = await client.workflow.getHandle(workflowId, runs[runs.length - 1]).fetchHistory();
      const last = history.events[history.events.length - 1];
      if (!last.workflowExecutionContinuedAsNewEventAttributes) {
        checkEq(eventTypes(history).pop(), 'WorkflowExecutionCompleted', 'the last run completes');
        break;
      }
      const next = last.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId;
      check(next, 'ContinuedAsNew names the next run');
      runs.push(next);
    }
    checkEq(runs.length, RUNS, 'runs in the chain');
    checkEq(result.continuedFromRunId, runs[RUNS - 2], "the last run's continuedFromExecutionRunId");
    const current = await client.workflow.getHandle(workflowId).describe();
    checkEq(current.runId, runs[RUNS - 1], "the workflow id's current run");
    checkEq(current.status.name, 'COMPLETED', "the last run's status");
    log(`${RUNS} runs: ${runs.join(', ')}`);
  });
}

runScenario(main, 'a continue-as-new chain, followed to its result');
