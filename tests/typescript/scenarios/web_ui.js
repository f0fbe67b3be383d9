// The official Temporal Web UI (Temporal's ui-server, run by `temper server
// start-dev` beside the server) in a real headless Chromium, driven with
// playwright-core. Seeds workflows through the TypeScript SDK (completed,
// failed, two running, terminated, one waiting on an activity, a parent of
// two children) and a schedule, then checks, as a person would see them:
// - the workflow list: a row per seeded workflow, the total count and the
//   status count chips, and a query typed into the query box narrowing the
//   list to one workflow;
// - the completed workflow's page: its history's event types in the order
//   the SDK's fetchHistory gives them, its input and its result;
// - a running workflow's page: a signal sent from the UI's "Send a Signal"
//   action, then the workflow terminated from the UI; the SDK sees the
//   signal in the history and the run TERMINATED;
// - another running workflow cancelled with the UI's "Request Cancellation":
//   the SDK sees WorkflowExecutionCancelRequested and the run CANCELED (the
//   workflow runs its clean-up activity and ends cancelled);
// - the completed workflow reset from the UI's "Reset" to its first
//   WorkflowTaskCompleted: the SDK sees the new run the reset call answered
//   as the workflow id's latest, with a WorkflowTaskFailed of cause
//   RESET_WORKFLOW, completing again with the same result;
// - a counter workflow updated from the UI's "Update" dialog (the SDK sees
//   the update's result in the history) and an update its validator
//   refuses (the dialog shows the refusal);
// - a workflow started from the completed one's "Start Workflow Like This
//   One" page under a new id: it runs on the worker to the same result;
// - the workflow waiting on an activity: its Pending Activities tab (the
//   activity id and type the SDK describes), its Call Stack tab (the
//   `__stack_trace` the SDK queries) and its Workers tab (the pollers
//   DescribeTaskQueue reports); the parent's Relationships tab (its
//   children);
// - the namespaces page and the default namespace's page, and the task
//   queue's page (reached from a workflow's task queue link) listing the
//   worker's pollers;
// - the schedules page listing the schedule, the schedule's page, and a
//   trigger from its Schedule Actions menu: the SDK sees the action taken,
//   and the schedule's page shows the run it started.
// On every page no error (an alert or an error toast) is shown, and every
// `/api/v1/` call the UI makes succeeds (HTTP status < 400), except paths
// matched by ALLOWED_API_FAILURES; every failing call is listed at the end
// with its status and body. Each page is saved as a full-page PNG into
// --screenshots DIR.
//
//   node web_ui.js --address 127.0.0.1:7233 --namespace default \
//     --ui-url http://127.0.0.1:8233 --chromium /usr/bin/chromium --screenshots DIR
'use strict';

const fs = require('fs');
const path = require('path');
const { WorkflowFailedError } = require('@temporalio/client');
const { defaultPayloadConverter } = require('@temporalio/common');
const { CompleteAsyncError } = require('@temporalio/activity');
const { chromium } = require('playwright-core');
const { check, checkEq, eventTypes, log, newId, runScenario, withWorker } = require('./_common');

/** `/api/v1/...` paths (regular expressions) whose failures are expected and
 * do not fail the test. Empty: every call the UI makes must succeed. */
const ALLOWED_API_FAILURES = [];

const HOUR = 3600 * 1000;
/** How long one UI step (a page's content appearing, a click) may take. */
const STEP_TIMEOUT_MS = 20000;

const activities = {
  async composeGreeting(name) {
    return `Hello, ${name}!`;
  },
  async cleanUp() {},
  // Completed from outside, or never: the activity stays pending.
  async waitOutside() {
    throw new CompleteAsyncError();
  },
};

async function waitFor(condition, what, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await condition();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

function decode(payloads) {
  return (payloads || []).map((payload) => defaultPayloadConverter.fromPayload(payload));
}

// ---------------------------------------------------------------------------
// Seeding through the SDK
// ---------------------------------------------------------------------------

async function seed(client, taskQueue) {
  const ids = {
    completed: newId('web-ui-completed'),
    failed: newId('web-ui-failed'),
    running: newId('web-ui-running'),
    signalled: newId('web-ui-signal-me'),
    terminated: newId('web-ui-terminated'),
    awaiting: newId('web-ui-awaiting-activity'),
    counter: newId('web-ui-counter'),
    parent: newId('web-ui-parent'),
  };
  const completed = await client.workflow.start('greetingWorkflow', { args: ['web-ui'], taskQueue, workflowId: ids.completed });
  checkEq(await completed.result(), 'Hello, web-ui!', 'the completed workflow result');

  const failed = await client.workflow.start('failingWorkflow', { args: ['broken on purpose'], taskQueue, workflowId: ids.failed });
  const failure = await failed.result().then(() => null, (error) => error);
  check(failure instanceof WorkflowFailedError, `the failing workflow fails: ${failure}`);

  const running = await client.workflow.start('cancellableWorkflow', { args: ['web-ui'], taskQueue, workflowId: ids.running });
  const signalled = await client.workflow.start('signalQueryWorkflow', { taskQueue, workflowId: ids.signalled });
  const terminated = await client.workflow.start('cancellableWorkflow', { args: ['web-ui'], taskQueue, workflowId: ids.terminated });
  // Both running workflows have started on the worker (they answer queries).
  checkEq(await signalled.query('count'), 0, 'signals before the UI sends one');
  await terminated.terminate('terminated by the SDK');
  checkEq((await running.describe()).status.name, 'RUNNING', 'the running workflow status');
  const awaiting = await client.workflow.start('awaitingActivityWorkflow', { taskQueue, workflowId: ids.awaiting });
  await waitFor(async () => (await awaiting.describe()).raw.pendingActivities?.[0]?.state === 2 /* PENDING_ACTIVITY_STATE_STARTED */, 'the awaited activity started');
  const counter = await client.workflow.start('counterWorkflow', { taskQueue, workflowId: ids.counter });
  await waitFor(async () => eventTypes(await counter.fetchHistory()).includes('WorkflowTaskCompleted'), 'the counter workflow running its handlers');
  const parent = await client.workflow.start('twoChildrenWorkflow', { args: [ids.parent], taskQueue, workflowId: ids.parent });
  checkEq(await parent.result(), ['FIRST', 'SECOND'], 'the parent workflow result');
  const children = [`${ids.parent}-first`, `${ids.parent}-second`];

  const scheduleId = newId('web-ui-schedule');
  const tomorrow = new Date(Math.ceil((Date.now() + 24 * HOUR) / HOUR) * HOUR);
  await client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: '1h' }], startAt: tomorrow },
    action: { type: 'startWorkflow', workflowType: 'greetingWorkflow', args: ['schedule'], workflowId: newId('web-ui-scheduled'), taskQueue },
  });

  const expected = {
    [ids.completed]: 'COMPLETED',
    [ids.failed]: 'FAILED',
    [ids.running]: 'RUNNING',
    [ids.signalled]: 'RUNNING',
    [ids.terminated]: 'TERMINATED',
    [ids.awaiting]: 'RUNNING',
    [ids.counter]: 'RUNNING',
    [ids.parent]: 'COMPLETED',
    [children[0]]: 'COMPLETED',
    [children[1]]: 'COMPLETED',
  };
  // The list the UI reads is the visibility store's: wait until it holds all.
  await waitFor(async () => {
    const listed = {};
    for await (const workflow of client.workflow.list()) listed[workflow.workflowId] = workflow.status.name;
    return Object.entries(expected).every(([id, status]) => listed[id] === status);
  }, 'the seeded workflows listed with their statuses');
  log(`seeded ${Object.keys(expected).length} workflows and schedule ${scheduleId}`);
  return {
    ids,
    runIds: {
      completed: completed.firstExecutionRunId,
      signalled: signalled.firstExecutionRunId,
      running: running.firstExecutionRunId,
      awaiting: awaiting.firstExecutionRunId,
      counter: counter.firstExecutionRunId,
      parent: parent.firstExecutionRunId,
    },
    handles: { completed, signalled, running, awaiting, counter },
    children,
    client,
    taskQueue,
    scheduleId,
  };
}

// ---------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------

/** Records every `/api/v1/` response (and failed request) of the page. */
function recordApiCalls(page) {
  const calls = [];
  const pending = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/v1/')) return;
    const call = { method: response.request().method(), path: url.pathname, search: url.search, status: response.status(), body: '' };
    calls.push(call);
    if (call.status >= 400) {
      // The browser drops the body of a response its page navigated away
      // from: then the same request again, from outside the page.
      const again = () =>
        page
          .context()
          .request.fetch(response.request())
          .then((repeated) => repeated.text().then((body) => `${body} (status ${repeated.status()} when asked again)`));
      pending.push(
        response
          .text()
          .catch(again)
          .then(
            (body) => (call.body = body),
            (error) => (call.body = `(body unreadable: ${error.message.split('\n')[0]})`),
          ),
      );
    }
  });
  page.on('requestfailed', (request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/api/v1/')) return;
    // Requests still in flight when the page navigates away are aborted: noted, not failures.
    log(`note: ${request.method()} ${url.pathname} did not complete: ${request.failure()?.errorText}`);
  });
  page.on('pageerror', (error) => log(`note: uncaught error in the page: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') log(`note: browser console error: ${message.text()}`);
  });
  return {
    calls,
    async failures() {
      await Promise.all(pending);
      return calls.filter((call) => call.status >= 400);
    },
  };
}

/** Waits until the page's requests quiet down (the UI polls, so not forever). */
async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
}

/** Fails if the page shows an error: an alert (error banners and the error
 * page have role="alert") or an error toast (announced assertively). */
async function checkNoErrorShown(page, where) {
  const shown = await page.evaluate(() => {
    const visible = (element) => element.getClientRects().length > 0;
    const alerts = [...document.querySelectorAll('[role="alert"]')]
      .filter(visible)
      .map((element) => element.textContent.trim())
      .filter(Boolean);
    const toasts = [...document.querySelectorAll('[data-testid="toast-live-region-assertive"]')]
      .map((element) => element.textContent.trim())
      .filter(Boolean);
    return [...alerts, ...toasts];
  });
  check(shown.length === 0, `${where} shows an error: ${JSON.stringify(shown)}`);
}

async function screenshot(page, dir, name) {
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

async function textOf(locator) {
  return (await locator.textContent()).replace(/\s+/g, ' ').trim();
}

/** The workflow ids of the rows the list shows. */
async function listedWorkflowIds(page, candidates) {
  const rows = page.getByTestId('workflows-summary-configurable-table-row');
  const texts = await rows.allTextContents();
  return candidates.filter((id) => texts.some((text) => text.includes(id)));
}

async function checkStatusCounts(page, expected, where) {
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  await waitFor(async () => {
    const count = page.getByTestId('workflow-count');
    return (await count.count()) > 0 && (await textOf(count.first())) === String(total);
  }, `${where}: the workflow count ${total}`);
  for (const [status, count] of Object.entries(expected)) {
    const chip = page.getByTestId(`workflow-status-${status}`);
    await chip.first().waitFor({ state: 'visible' }).catch(() => {});
    check((await chip.count()) > 0, `${where}: no status count chip for ${status}`);
    checkEq(await textOf(chip.first()), `${count} ${status}`, `${where}: the ${status} chip`);
  }
  const chips = await page.locator('[data-testid^="workflow-status-"]').evaluateAll((elements) =>
    elements.map((element) => element.getAttribute('data-testid').replace('workflow-status-', '')),
  );
  checkEq([...new Set(chips)].sort(), Object.keys(expected).sort(), `${where}: the statuses with a chip`);
}

async function workflowList(page, ui, seeded, screenshots) {
  const all = Object.values(seeded.ids);
  await page.goto(`${ui}/namespaces/default/workflows`);
  await waitFor(async () => (await listedWorkflowIds(page, all)).length === all.length, 'a row for every seeded workflow');
  await checkStatusCounts(page, { Running: 4, Completed: 4, Failed: 1, Terminated: 1 }, 'the workflow list');
  await settle(page);
  await checkNoErrorShown(page, 'the workflow list');
  await screenshot(page, screenshots, 'workflow-list');
  log('workflow list: every seeded workflow, the total and the status counts');

  // The query box: "Query" toggle, a visibility query, "Search".
  const query = `WorkflowId="${seeded.ids.completed}"`;
  await page.getByTestId('toggle-manual-query').first().click();
  const box = page.getByTestId('workflow-manual-search-input').locator('visible=true').first();
  await box.fill(query);
  await page.getByTestId('workflow-manual-search-button').locator('visible=true').first().click();
  await waitFor(() => new URL(page.url()).searchParams.get('query') === query, 'the query in the page URL');
  await waitFor(async () => {
    const listed = await listedWorkflowIds(page, all);
    const rows = await page.getByTestId('workflows-summary-configurable-table-row').count();
    return rows === 1 && listed.length === 1 && listed[0] === seeded.ids.completed;
  }, 'the list narrowed to the completed workflow');
  await checkStatusCounts(page, { Completed: 1 }, 'the filtered workflow list');
  await settle(page);
  await checkNoErrorShown(page, 'the filtered workflow list');
  await screenshot(page, screenshots, 'workflow-list-filtered');
  log(`query ${query}: one row`);
}

/** A run's page, its whole history oldest first. */
async function openHistory(page, ui, workflowId, runId) {
  await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history?sort=ascending`);
}

/** The event types of the history table ("Workflow Execution Started" as
 * WorkflowExecutionStarted), in the order shown. */
async function shownEventTypes(page) {
  return page.locator('tr[data-testid="event-summary-row"]').evaluateAll((rows) =>
    rows.map((row) => ({
      id: Number(row.getAttribute('data-eventid')),
      // The cell's own text, without its category icon's title.
      type: [...(row.querySelectorAll('td')[3]?.querySelector('p')?.childNodes || [])]
        .filter((node) => node.nodeType === Node.TEXT_NODE)
        .map((node) => node.textContent)
        .join('')
        .replace(/\s+/g, ''),
    })),
  );
}

async function completedWorkflow(page, ui, seeded, screenshots) {
  const { completed: id } = seeded.ids;
  const runId = seeded.runIds.completed;
  const sdkTypes = eventTypes(await seeded.handles.completed.fetchHistory());
  // The UI's own way there: the workflow id's link in the list.
  await page.goto(`${ui}/namespaces/default/workflows`);
  await page.getByRole('link', { name: id, exact: true }).first().click();
  await page.waitForURL((url) => url.pathname.includes(`/workflows/${id}/${runId}`));
  // The history, every event (the "All" view), oldest first.
  await openHistory(page, ui, id, runId);
  await page.getByTestId('feed').first().click();
  const shown = await waitFor(async () => {
    const events = await shownEventTypes(page);
    return events.length >= sdkTypes.length ? events : null;
  }, `the ${sdkTypes.length} events of the history`);
  checkEq(
    shown.map((event) => event.type),
    sdkTypes,
    'the event types the UI shows, in order (the SDK fetchHistory order)',
  );
  checkEq(shown.map((event) => event.id), sdkTypes.map((_, i) => i + 1), 'the event ids the UI shows');

  const inputAndResult = page.getByTestId('input-and-result').first();
  await inputAndResult.waitFor({ state: 'visible' });
  await waitFor(async () => {
    const text = await inputAndResult.textContent();
    return text.includes('"web-ui"') && text.includes('"Hello, web-ui!"');
  }, 'the input "web-ui" and the result "Hello, web-ui!" shown');
  await page.getByText('Completed', { exact: true }).first().waitFor({ state: 'visible' });
  await settle(page);
  await checkNoErrorShown(page, 'the completed workflow page');
  await screenshot(page, screenshots, 'workflow-completed');
  log(`completed workflow page: ${shown.length} events as the SDK has them, input and result shown`);
}

/** The visible one of the UI's modals with this test id or id (it renders
 * some twice), once it shows. */
async function openedModal(page, testId) {
  const dialog = page.locator(`[data-testid="${testId}"], #${testId}`).locator('visible=true').first();
  await dialog.waitFor({ state: 'visible' });
  return dialog;
}

/** Confirms the open modal and waits for the POST it makes (its URL holding
 * `pathPart`): the call must succeed and the modal close. Returns the response. */
async function confirmModal(page, dialog, pathPart, what) {
  const call = page.waitForResponse((response) => response.url().includes(pathPart) && response.request().method() === 'POST');
  await dialog.getByTestId('confirm-modal-button').click();
  const response = await call;
  checkEq(response.status(), 200, `the status of the UI ${what} call`);
  await dialog.waitFor({ state: 'hidden' });
  return response;
}

/** Waits until the workflow page shows the run closed (its status badge and
 * its closing event in the history), with no error shown, and saves it. */
async function checkClosedShown(page, screenshots, { status, closingEvent, where, name }) {
  await page.getByText(status, { exact: true }).first().waitFor({ state: 'visible' });
  await waitFor(async () => (await shownEventTypes(page)).some((event) => event.type === closingEvent), `${closingEvent} in the shown history`);
  await settle(page);
  await checkNoErrorShown(page, where);
  await screenshot(page, screenshots, name);
}

async function signalAndTerminate(page, ui, seeded, screenshots) {
  const { signalled: id } = seeded.ids;
  const runId = seeded.runIds.signalled;
  await openHistory(page, ui, id, runId);
  await page.getByText('Running', { exact: true }).first().waitFor({ state: 'visible' });

  // More Actions > Send a Signal: the signal `add` with "from-the-ui".
  await page.getByRole('button', { name: 'More Actions' }).first().click();
  await page.getByRole('menuitem', { name: 'Send a Signal' }).first().click();
  const signalModal = await openedModal(page, 'signal-confirmation-modal');
  const select = signalModal.getByTestId('signal-select-button');
  if (await select.count()) {
    // The workflow's signal definitions (from its metadata query) are offered.
    await select.click();
    await signalModal.getByRole('option', { name: 'add' }).click();
  } else {
    await signalModal.locator('#signal-name').fill('add');
  }
  await signalModal.locator('.cm-content').first().fill('"from-the-ui"');
  await confirmModal(page, signalModal, '/signal/', 'signal');
  await waitFor(async () => (await shownEventTypes(page)).some((event) => event.type === 'WorkflowExecutionSignaled'), 'the signal in the shown history');
  await settle(page);
  await checkNoErrorShown(page, 'the running workflow page after the signal');
  await screenshot(page, screenshots, 'workflow-signalled');
  log('sent the signal add("from-the-ui") from the UI');

  // More Actions > Terminate, with a reason.
  await page.getByRole('button', { name: 'More Actions' }).first().click();
  await page.getByTestId('terminate-button').locator('visible=true').first().click();
  const terminateModal = await openedModal(page, 'terminate-confirmation-modal');
  await terminateModal.locator('#workflow-termination-reason').fill('terminated from the Web UI');
  await confirmModal(page, terminateModal, '/terminate', 'terminate');
  await checkClosedShown(page, screenshots, {
    status: 'Terminated',
    closingEvent: 'WorkflowExecutionTerminated',
    where: 'the terminated workflow page',
    name: 'workflow-terminated',
  });
  log('terminated the workflow from the UI');

  // What the server has, through the SDK.
  const handle = seeded.handles.signalled;
  checkEq((await handle.describe()).status.name, 'TERMINATED', 'the status the SDK describes');
  const history = await handle.fetchHistory();
  const types = eventTypes(history);
  const signals = history.events.filter((event) => event.workflowExecutionSignaledEventAttributes);
  checkEq(
    signals.map((event) => [event.workflowExecutionSignaledEventAttributes.signalName, decode(event.workflowExecutionSignaledEventAttributes.input?.payloads)]),
    [['add', ['from-the-ui']]],
    'the signals in the history',
  );
  checkEq(types[types.length - 1], 'WorkflowExecutionTerminated', 'the last event');
  const terminated = history.events[history.events.length - 1].workflowExecutionTerminatedEventAttributes;
  checkEq(terminated.reason, 'terminated from the Web UI', 'the termination reason');
  log('the SDK sees the signal and the run TERMINATED');
}

async function requestCancellation(page, ui, seeded, screenshots) {
  const { running: id } = seeded.ids;
  const runId = seeded.runIds.running;
  await openHistory(page, ui, id, runId);
  await page.getByText('Running', { exact: true }).first().waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Request Cancellation' }).first().click();
  const cancelModal = await openedModal(page, 'cancel-confirmation-modal');
  await confirmModal(page, cancelModal, '/cancel', 'cancel');
  // The UI shows the outcome at its next refresh of the running workflow's page.
  await checkClosedShown(page, screenshots, {
    status: 'Canceled',
    closingEvent: 'WorkflowExecutionCanceled',
    where: 'the cancelled workflow page',
    name: 'workflow-cancelled',
  });
  log('requested cancellation from the UI');

  const handle = seeded.handles.running;
  checkEq((await handle.describe()).status.name, 'CANCELLED', 'the status the SDK describes after the UI cancelled');
  const types = eventTypes(await handle.fetchHistory());
  check(types.includes('WorkflowExecutionCancelRequested'), `the history has the cancel request: ${types}`);
  check(types.includes('ActivityTaskCompleted'), `the workflow ran its clean-up activity: ${types}`);
  checkEq(types[types.length - 1], 'WorkflowExecutionCanceled', 'the last event');
  log('the SDK sees the cancel request and the run CANCELED');
}

async function reset(page, ui, seeded, screenshots) {
  const { completed: id } = seeded.ids;
  const baseRunId = seeded.runIds.completed;
  const baseEvents = (await seeded.handles.completed.fetchHistory()).events;
  const firstCompleted = baseEvents.find((event) => event.workflowTaskCompletedEventAttributes);
  const resetPoint = Number(firstCompleted.eventId);
  await openHistory(page, ui, id, baseRunId);
  await page.getByText('Completed', { exact: true }).first().waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Reset' }).first().click();
  const resetModal = await openedModal(page, 'reset-confirmation-modal');
  // The reset points the UI offers: "<event id> - <event type>".
  await resetModal.getByTestId('workflow-reset-event-id-select-button').first().click();
  const option = page.getByRole('option', { name: new RegExp(`^${resetPoint} - `) }).locator('visible=true').first();
  await option.click();
  await resetModal.locator('#reset-reason').fill('reset from the Web UI');
  const resetResponse = await confirmModal(page, resetModal, '/reset', 'reset');
  const newRunId = (await resetResponse.json()).runId;
  check(newRunId && newRunId !== baseRunId, `the reset call answers a new run id: ${newRunId}`);
  await settle(page);
  await checkNoErrorShown(page, 'the workflow page after the reset');
  await screenshot(page, screenshots, 'workflow-reset');
  log(`reset the completed workflow to event ${resetPoint} from the UI: new run ${newRunId}`);

  const latest = seeded.client.workflow.getHandle(id);
  checkEq(await latest.result(), 'Hello, web-ui!', 'the result of the run the reset started');
  const description = await latest.describe();
  checkEq(description.runId, newRunId, 'the latest run of the workflow id is the one the reset started');
  const events = (await latest.fetchHistory()).events;
  const failed = events.find((event) => event.workflowTaskFailedEventAttributes);
  check(failed, `the new run has a WorkflowTaskFailed: ${eventTypes({ events })}`);
  const { temporal } = require('@temporalio/proto');
  checkEq(
    temporal.api.enums.v1.WorkflowTaskFailedCause[failed.workflowTaskFailedEventAttributes.cause],
    'WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW',
    'the cause of the WorkflowTaskFailed',
  );
  checkEq(failed.workflowTaskFailedEventAttributes.baseRunId, baseRunId, 'the reset base run');
  checkEq(failed.workflowTaskFailedEventAttributes.newRunId, newRunId, 'the reset new run');
  checkEq(failed.workflowTaskFailedEventAttributes.failure?.message, 'reset from the Web UI', 'the reset reason');
  checkEq((await seeded.handles.completed.describe()).status.name, 'COMPLETED', 'the base run stays completed');

  // The new run's page in the UI, completed.
  await openHistory(page, ui, id, newRunId);
  await page.getByText('Completed', { exact: true }).first().waitFor({ state: 'visible' });
  await waitFor(async () => (await shownEventTypes(page)).some((event) => event.type === 'WorkflowTaskFailed'), 'the reset WorkflowTaskFailed in the new run\'s shown history');
  await settle(page);
  await checkNoErrorShown(page, 'the reset run page');
  await screenshot(page, screenshots, 'workflow-reset-run');
  log('the SDK sees the new run, with the reset WorkflowTaskFailed, completed');
}

/** Opens the "Update" dialog of the open run's page and sends `add(amount)`. */
async function sendAddUpdate(page, amount) {
  await page.getByRole('button', { name: 'More Actions' }).first().click();
  await page.getByTestId('update-button').locator('visible=true').first().click();
  const dialog = await openedModal(page, 'update-confirmation-modal');
  const select = dialog.getByTestId('update-select-button');
  if (await select.count()) {
    // The workflow's update definitions (from its metadata query) are offered.
    await select.click();
    await page.getByRole('option', { name: 'add', exact: true }).locator('visible=true').first().click();
  } else {
    await dialog.locator('#update-name').fill('add');
  }
  await dialog.locator('.cm-content').first().fill(String(amount));
  return dialog;
}

async function update(page, ui, seeded, screenshots) {
  const { counter: id } = seeded.ids;
  await openHistory(page, ui, id, seeded.runIds.counter);
  await page.getByText('Running', { exact: true }).first().waitFor({ state: 'visible' });
  const accepted = await sendAddUpdate(page, 5);
  await confirmModal(page, accepted, '/update/', 'update');
  await waitFor(async () => (await shownEventTypes(page)).some((event) => event.type === 'WorkflowExecutionUpdateCompleted'), 'the update in the shown history');
  await settle(page);
  await checkNoErrorShown(page, 'the workflow page after the update');
  await screenshot(page, screenshots, 'workflow-updated');
  log('sent the update add(5) from the UI');

  // The validator refuses a negative amount: the dialog says so and stays.
  const refused = await sendAddUpdate(page, -1);
  const refusal = page.waitForResponse((response) => response.url().includes('/update/') && response.request().method() === 'POST');
  await refused.getByTestId('confirm-modal-button').click();
  checkEq((await refusal).status(), 200, 'the status of the refused update call (the refusal is its outcome)');
  await waitFor(async () => (await refused.textContent()).includes('cannot add -1'), 'the refusal shown in the Update dialog');
  await screenshot(page, screenshots, 'workflow-update-refused');
  await refused.getByTestId('cancel-modal-button').click();
  await refused.waitFor({ state: 'hidden' });
  log('the refused update add(-1): the dialog shows the validator\'s message');

  const handle = seeded.handles.counter;
  const events = (await handle.fetchHistory()).events;
  const completed = events.filter((event) => event.workflowExecutionUpdateCompletedEventAttributes);
  checkEq(
    completed.map((event) => decode(event.workflowExecutionUpdateCompletedEventAttributes.outcome.success.payloads)),
    [[5]],
    'the update results in the history (the refused one leaves none)',
  );
  await handle.signal('done');
  checkEq(await handle.result(), 5, 'the counter after the UI update');
  log('the SDK sees the update add(5) and the counter at 5');
}

async function startFromTheUi(page, ui, seeded, screenshots) {
  const { completed: id } = seeded.ids;
  await openHistory(page, ui, id, seeded.runIds.completed);
  await page.getByRole('button', { name: 'More Actions' }).first().click();
  await page.getByTestId('start-workflow-button').locator('visible=true').first().click();
  await page.getByTestId('start-workflow').first().waitFor({ state: 'visible' });
  // The page is filled in from the completed run: type, task queue and input.
  await waitFor(async () => (await page.locator('#workflowType').inputValue()) === 'greetingWorkflow', 'the workflow type filled in');
  checkEq(await page.locator('#taskQueue').inputValue(), seeded.taskQueue, 'the task queue filled in');
  await waitFor(async () => (await page.locator('.cm-content').first().textContent()).includes('web-ui'), 'the input filled in');
  const newWorkflowId = newId('web-ui-started-from-the-ui');
  await page.locator('#workflowId').fill(newWorkflowId);
  const startCall = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().includes(`/workflows/${newWorkflowId}`));
  await page.locator('button[data-testid="start-workflow-button"]').locator('visible=true').first().click();
  checkEq((await startCall).status(), 200, 'the status of the UI start call');
  await settle(page);
  await screenshot(page, screenshots, 'workflow-started-from-the-ui');
  checkEq(await seeded.client.workflow.getHandle(newWorkflowId).result(), 'Hello, web-ui!', 'the result of the workflow the UI started');
  log(`started ${newWorkflowId} from the UI: it ran to the same result`);
}

/** The page's visible text, whitespace collapsed. */
async function pageText(page) {
  return (await page.locator('main').first().innerText()).replace(/\s+/g, ' ');
}

/** Opens a tab of a run's page and waits until it shows every one of `texts`. */
async function openTab(page, ui, screenshots, { workflowId, runId, tab, texts, what }) {
  // From another tab of the same run, the tab's own link is enough.
  if (!new URL(page.url()).pathname.includes(`/workflows/${encodeURIComponent(workflowId)}/${runId}/`)) {
    await openHistory(page, ui, workflowId, runId);
  }
  await page.getByTestId(`${tab}-tab`).locator('visible=true').first().click();
  await waitFor(async () => {
    const text = await pageText(page);
    return texts.every((expected) => text.includes(expected));
  }, `${what} showing ${JSON.stringify(texts)}`);
  await settle(page);
  await checkNoErrorShown(page, what);
  await screenshot(page, screenshots, `workflow-${tab}`);
}

async function workflowTabs(page, ui, seeded, screenshots) {
  const { awaiting: id } = seeded.ids;
  const runId = seeded.runIds.awaiting;
  const handle = seeded.handles.awaiting;

  const [pending] = (await handle.describe()).raw.pendingActivities;
  await openTab(page, ui, screenshots, { workflowId: id, runId, tab: 'pending-activities', texts: [pending.activityId, pending.activityType.name], what: 'the Pending Activities tab' });
  log(`pending activities tab: ${pending.activityId} (${pending.activityType.name}), as the SDK describes it`);

  const stackTrace = await handle.query('__stack_trace');
  const frame = stackTrace.split('\n').map((line) => line.trim()).find((line) => line.includes('awaitingActivityWorkflow'));
  check(frame, `the SDK's stack trace names the workflow function: ${stackTrace}`);
  await openTab(page, ui, screenshots, { workflowId: id, runId, tab: 'call-stack', texts: ['awaitingActivityWorkflow'], what: 'the Call Stack tab' });
  log(`call stack tab: shows ${frame}`);

  const { pollers } = await seeded.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: seeded.taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  const identities = [...new Set(pollers.map((poller) => poller.identity))];
  check(identities.length > 0, 'DescribeTaskQueue reports the worker polling');
  await openTab(page, ui, screenshots, { workflowId: id, runId, tab: 'workers', texts: identities, what: 'the Workers tab' });
  log(`workers tab: ${identities.join(', ')}`);

  await openTab(page, ui, screenshots, {
    workflowId: seeded.ids.parent,
    runId: seeded.runIds.parent,
    tab: 'relationships',
    texts: seeded.children,
    what: "the parent's Relationships tab",
  });
  log(`relationships tab: ${seeded.children.join(', ')}`);
}

async function namespaceAndTaskQueuePages(page, ui, seeded, screenshots) {
  await page.goto(`${ui}/namespaces`);
  await waitFor(async () => (await pageText(page)).includes('default'), 'the namespaces page listing default');
  await settle(page);
  await checkNoErrorShown(page, 'the namespaces page');
  await screenshot(page, screenshots, 'namespaces');

  const described = await seeded.client.workflowService.describeNamespace({ namespace: 'default' });
  const retentionDays = Number(described.config.workflowExecutionRetentionTtl.seconds) / 86400;
  await page.goto(`${ui}/namespaces/default`);
  await waitFor(async () => (await pageText(page)).includes(`${retentionDays} day`), `the namespace page showing the retention of ${retentionDays} days`);
  await settle(page);
  await checkNoErrorShown(page, 'the namespace page');
  await screenshot(page, screenshots, 'namespace');
  log(`namespaces page and the default namespace's page (retention ${retentionDays} days)`);

  // From a workflow's page, its task queue's link.
  await openHistory(page, ui, seeded.ids.awaiting, seeded.runIds.awaiting);
  await page.getByRole('link', { name: seeded.taskQueue }).first().click();
  await page.waitForURL((url) => url.pathname.endsWith(`/task-queues/${encodeURIComponent(seeded.taskQueue)}`));
  const { pollers } = await seeded.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: seeded.taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  const identities = [...new Set(pollers.map((poller) => poller.identity))];
  await waitFor(async () => {
    const text = await pageText(page);
    return identities.every((identity) => text.includes(identity));
  }, `the task queue page listing the pollers ${identities}`);
  await settle(page);
  await checkNoErrorShown(page, 'the task queue page');
  await screenshot(page, screenshots, 'task-queue');
  log(`task queue page: pollers ${identities.join(', ')}`);
}

async function schedules(page, ui, seeded, screenshots) {
  await page.goto(`${ui}/namespaces/default/schedules`);
  await page.getByText(seeded.scheduleId, { exact: true }).first().waitFor({ state: 'visible' });
  await settle(page);
  await checkNoErrorShown(page, 'the schedules page');
  await screenshot(page, screenshots, 'schedules');
  log('schedules page: the schedule listed');

  // The schedule's own page, then Schedule Actions > Trigger.
  await page.getByText(seeded.scheduleId, { exact: true }).first().click();
  await page.waitForURL((url) => url.pathname.endsWith(`/schedules/${encodeURIComponent(seeded.scheduleId)}`));
  await waitFor(async () => (await pageText(page)).includes('greetingWorkflow'), 'the schedule page showing its workflow type');
  await page.locator('#schedule-actions-menu-button').click();
  await page.getByTestId('trigger-schedule').locator('visible=true').first().click();
  const triggerModal = await openedModal(page, 'trigger-schedule-modal');
  await confirmModal(page, triggerModal, '/patch', 'trigger');
  const schedule = seeded.client.schedule.getHandle(seeded.scheduleId);
  const action = await waitFor(async () => (await schedule.describe()).info.recentActions[0], 'the triggered action in the SDK\'s describe');
  checkEq((await schedule.describe()).info.numActionsTaken, 1, 'the actions the schedule took');
  const started = action.action.workflow.workflowId;
  checkEq(await seeded.client.workflow.getHandle(started).result(), 'Hello, schedule!', 'the result of the triggered run');
  await waitFor(async () => {
    await page.reload();
    await page.getByText('greetingWorkflow').first().waitFor({ state: 'visible' });
    return (await pageText(page)).includes(started);
  }, 'the schedule page showing the triggered run');
  await settle(page);
  await checkNoErrorShown(page, 'the schedule page');
  await screenshot(page, screenshots, 'schedule-triggered');
  log(`schedule page: triggered from the UI, started ${started}`);
}

async function workflowListAfterwards(page, ui, seeded, screenshots) {
  await page.goto(`${ui}/namespaces/default/workflows`);
  // The reset's new run completed beside its base run, and the counter, the
  // workflow the UI started and the run the trigger started; one cancelled,
  // one more terminated.
  await checkStatusCounts(page, { Running: 1, Completed: 8, Failed: 1, Terminated: 2, Canceled: 1 }, 'the workflow list after the UI actions');
  await settle(page);
  await checkNoErrorShown(page, 'the workflow list afterwards');
  await screenshot(page, screenshots, 'workflow-list-after');
  log('workflow list afterwards: the counts follow the termination, the cancellation and the reset');
}

async function main(args) {
  const ui = (args.options['--ui-url'] || '').replace(/\/$/, '');
  const executablePath = args.options['--chromium'];
  const screenshots = args.options['--screenshots'];
  check(ui && executablePath && screenshots, 'needs --ui-url, --chromium and --screenshots');
  fs.mkdirSync(screenshots, { recursive: true });

  await withWorker(args, 'web-ui', activities, async (client, taskQueue) => {
    const seeded = await seed(client, taskQueue);
    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
    const api = recordApiCalls(page);
    let failedStep = null;
    try {
      await workflowList(page, ui, seeded, screenshots);
      await completedWorkflow(page, ui, seeded, screenshots);
      await signalAndTerminate(page, ui, seeded, screenshots);
      await requestCancellation(page, ui, seeded, screenshots);
      await reset(page, ui, seeded, screenshots);
      await update(page, ui, seeded, screenshots);
      await startFromTheUi(page, ui, seeded, screenshots);
      await workflowTabs(page, ui, seeded, screenshots);
      await namespaceAndTaskQueuePages(page, ui, seeded, screenshots);
      await schedules(page, ui, seeded, screenshots);
      await workflowListAfterwards(page, ui, seeded, screenshots);
    } catch (error) {
      failedStep = error;
      // The page as it was when the step failed.
      await screenshot(page, screenshots, 'failure').catch(() => {});
    }
    // Every failing call is reported, whether or not a step failed.
    const failures = await api.failures();
    await browser.close();
    const distinct = [...new Set(api.calls.map((call) => `${call.method} ${call.path}`))];
    log(`${api.calls.length} /api/v1 calls (${distinct.length} distinct paths): ${distinct.join(', ')}`);
    const allowed = (call) => ALLOWED_API_FAILURES.some((pattern) => new RegExp(pattern).test(call.path));
    for (const call of failures) {
      log(`${allowed(call) ? 'allowed ' : ''}API FAILURE ${call.status} ${call.method} ${call.path}${call.search}: ${call.body.slice(0, 500)}`);
    }
    const unexpected = failures.filter((call) => !allowed(call));
    const apiSummary = `${unexpected.length} /api/v1 calls of the UI failed: ${unexpected.map((call) => `${call.status} ${call.method} ${call.path}`).join('; ')}`;
    if (failedStep) {
      // A page that did not show what it should often follows from a failed call.
      if (unexpected.length) {
        const meanwhile = `\n(meanwhile ${apiSummary})`;
        failedStep.message += meanwhile;
        if (failedStep.stack) failedStep.stack += meanwhile;
      }
      throw failedStep;
    }
    check(unexpected.length === 0, apiSummary);
  });
}

runScenario(main, 'the official Temporal Web UI in headless Chromium shows and drives what the server holds', {
  flags: ['--ui-url', '--chromium', '--screenshots'],
});
