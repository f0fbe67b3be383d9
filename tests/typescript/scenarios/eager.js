// Eager workflow start and eager activity dispatch through the TypeScript
// SDK: the start response carries the first workflow task, and the activity
// the worker schedules on its own queue is started with the completion
// (its started event's request id is one the server derived, a version-5
// UUID, where matching draws version-4 ones).
'use strict';

const { check, checkEq, log, newId, runScenario, withWorker } = require('./_common');

const activities = {
  async composeGreeting(name) {
    return `Hello, ${name}!`;
  },
};

async function main(args) {
  await withWorker(args, 'eager', activities, async (client, taskQueue) => {
    const handle = await client.workflow.start('greetingWorkflow', {
      args: ['eager'],
      taskQueue,
      workflowId: newId('ts-eager-wf'),
      requestEagerStart: true,
    });
    checkEq(await handle.result(), 'Hello, eager!', 'result');
    const history = await handle.fetchHistory();
    const started = history.events[0].workflowExecutionStartedEventAttributes;
    check(started.eagerExecutionAccepted, 'the started event records the eager start');
    const activityStarted = history.events.find((event) => event.activityTaskStartedEventAttributes);
    const requestId = activityStarted.activityTaskStartedEventAttributes.requestId;
    checkEq(requestId[14], '5', `the activity was started with the workflow task's completion (request id ${requestId})`);
    log('eager start and eager activity dispatch observed');
  }, { shareConnection: true });
}

runScenario(main, 'eager workflow start and eager activity dispatch');
