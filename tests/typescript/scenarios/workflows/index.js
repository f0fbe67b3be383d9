// The workflows of every TypeScript scenario, bundled by each scenario's worker.
'use strict';

const wf = require('@temporalio/workflow');

// Only start-to-close is set: the server fills in the other timeouts.
const { composeGreeting } = wf.proxyActivities({ startToCloseTimeout: '10 seconds' });
const { failTwiceThenGreet } = wf.proxyActivities({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 1, maximumAttempts: 5 },
});
const { cleanUp } = wf.proxyActivities({ startToCloseTimeout: '10 seconds' });
const waitOutside = (activityId) => wf.proxyActivities({ startToCloseTimeout: '1 minute', activityId }).waitOutside;

async function greetingWorkflow(name) {
  return await composeGreeting(name);
}

async function retryingWorkflow(name) {
  return await failTwiceThenGreet(name);
}

const addSignal = wf.defineSignal('add');
const countQuery = wf.defineQuery('count');

async function signalQueryWorkflow() {
  const names = [];
  wf.setHandler(addSignal, (name) => names.push(name));
  wf.setHandler(countQuery, () => names.length);
  await wf.condition(() => names.length === 2);
  return names;
}

/** Sleeps, and says how much workflow time passed. */
async function timerWorkflow(ms) {
  const before = Date.now();
  await wf.sleep(ms);
  return Date.now() - before;
}

/** Waits until cancelled, then cleans up in a non-cancellable scope. */
async function cancellableWorkflow(name) {
  try {
    await wf.sleep('1 hour');
    return 'not cancelled';
  } catch (error) {
    if (wf.isCancellation(error)) {
      await wf.CancellationScope.nonCancellable(() => cleanUp(name));
    }
    throw error;
  }
}

/** Activities completed from outside the worker, by token and by id. */
async function asyncCompletionWorkflow() {
  const byToken = await waitOutside('by-token')('by-token');
  const byId = await waitOutside('by-id')('by-id');
  return [byToken, byId];
}

async function failingWorkflow(reason) {
  throw wf.ApplicationFailure.nonRetryable(reason, 'Broken');
}

/** Continues as new until the counter reaches 1; returns the runs' counters. */
async function countdownWorkflow(remaining, seen = []) {
  const counted = [...seen, remaining];
  if (remaining > 1) {
    await wf.continueAsNew(remaining - 1, counted);
  }
  return { counted, continuedFromRunId: wf.workflowInfo().continuedFromExecutionRunId };
}

/** Fails until the given attempt of the workflow's retry policy. */
async function flakyWorkflow(succeedOn) {
  const { attempt } = wf.workflowInfo();
  if (attempt < succeedOn) {
    throw wf.ApplicationFailure.retryable(`attempt ${attempt} failed`, 'Flaky');
  }
  return attempt;
}

/** A cron workflow counting its runs through the last completion result. */
async function countingCronWorkflow() {
  const previous = wf.workflowInfo().lastResult ?? 0;
  return previous + 1;
}

const finishSignal = wf.defineSignal('finish');

/** Waits for the finish signal; reports a cancellation it cleaned up after. */
async function waitingChildWorkflow(name) {
  let finished = false;
  wf.setHandler(finishSignal, () => {
    finished = true;
  });
  try {
    await wf.condition(() => finished);
    return `${name} finished`;
  } catch (error) {
    if (wf.isCancellation(error)) {
      return `${name} cleaned up after cancellation`;
    }
    throw error;
  }
}

async function echoChildWorkflow(text) {
  if (text === 'fail') {
    throw wf.ApplicationFailure.nonRetryable('the child was asked to fail', 'ChildFailure');
  }
  return text.toUpperCase();
}

/** Waits on one activity that is completed from outside (or never), for as
 * long as a test looks at it pending. */
async function awaitingActivityWorkflow() {
  const { waitOutside: waitLong } = wf.proxyActivities({ startToCloseTimeout: '1 hour', activityId: 'awaited' });
  return await waitLong('awaited');
}

/** Runs two children to their results, one after the other. */
async function twoChildrenWorkflow(prefix) {
  const first = await wf.executeChild(echoChildWorkflow, { args: ['first'], workflowId: `${prefix}-first` });
  const second = await wf.executeChild(echoChildWorkflow, { args: ['second'], workflowId: `${prefix}-second` });
  return [first, second];
}

/** Runs children to a result, to a failure, and cancels one; signals another workflow. */
async function childrenParentWorkflow(prefix, signalTarget) {
  const outcome = {};
  outcome.echo = await wf.executeChild(echoChildWorkflow, { args: ['hello'], workflowId: `${prefix}-echo` });
  try {
    await wf.executeChild(echoChildWorkflow, { args: ['fail'], workflowId: `${prefix}-fail` });
  } catch (error) {
    outcome.failure = error.cause ? error.cause.message : String(error);
  }
  const abandoned = await wf.startChild(waitingChildWorkflow, {
    args: ['abandoned'],
    workflowId: `${prefix}-abandoned`,
    parentClosePolicy: 'ABANDON',
  });
  outcome.abandonedRunId = abandoned.firstExecutionRunId;
  await wf.CancellationScope.cancellable(async () => {
    const child = await wf.startChild(waitingChildWorkflow, { args: ['cancelled'], workflowId: `${prefix}-cancelled` });
    wf.CancellationScope.current().cancel();
    // The child cleans up and returns, so its result still comes.
    outcome.cancelled = await child.result();
  });
  await wf.getExternalWorkflowHandle(signalTarget).signal(finishSignal);
  return outcome;
}

const addUpdate = wf.defineUpdate('add');
const addSlowlyUpdate = wf.defineUpdate('addSlowly');
const doneSignal = wf.defineSignal('done');

/** A counter changed by updates; `add` refuses negative amounts in its validator. */
async function counterWorkflow() {
  let total = 0;
  let done = false;
  wf.setHandler(
    addUpdate,
    (amount) => {
      total += amount;
      return total;
    },
    {
      validator: (amount) => {
        if (amount < 0) throw new Error(`cannot add ${amount}`);
      },
    },
  );
  wf.setHandler(addSlowlyUpdate, async (amount) => {
    await wf.sleep('1 second');
    total += amount;
    return total;
  });
  wf.setHandler(doneSignal, () => {
    done = true;
  });
  await wf.condition(() => done && wf.allHandlersFinished());
  return total;
}

module.exports = {
  asyncCompletionWorkflow,
  awaitingActivityWorkflow,
  twoChildrenWorkflow,
  counterWorkflow,
  childrenParentWorkflow,
  echoChildWorkflow,
  waitingChildWorkflow,
  countdownWorkflow,
  countingCronWorkflow,
  flakyWorkflow,
  cancellableWorkflow,
  failingWorkflow,
  greetingWorkflow,
  retryingWorkflow,
  signalQueryWorkflow,
  timerWorkflow,
};
