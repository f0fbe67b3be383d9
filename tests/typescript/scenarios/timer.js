// A workflow sleeps 2 s on a durable timer: the history has the timer's
// started and fired events, and workflow time moved by the sleep.
'use strict';

const { check, checkEq, eventTypes, newId, runScenario, withWorker } = require('./_common');

async function main(args) {
  await withWorker(args, 'timer', {}, async (client, taskQueue) => {
    const began = Date.now();
    const handle = await client.workflow.start('timerWorkflow', { args: [2000], taskQueue, workflowId: newId('ts-timer-wf') });
    const slept = await handle.result();
    check(slept >= 2000, `workflow time moved ${slept} ms across a 2000 ms sleep`);
    check(Date.now() - began >= 2000, 'the result came after the timer fired');
    const history = await handle.fetchHistory();
    const types = eventTypes(history);
    checkEq(types.filter((type) => type.startsWith('Timer')), ['TimerStarted', 'TimerFired'], 'timer events');
    const started = history.events.find((event) => event.timerStartedEventAttributes).timerStartedEventAttributes;
    checkEq(Number(started.startToFireTimeout.seconds), 2, "the timer's start-to-fire timeout");
  });
}

runScenario(main, 'a workflow sleeps on a durable timer');
