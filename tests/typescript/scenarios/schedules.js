// Schedules through the TypeScript SDK's schedule client: create (an hourly
// interval that begins tomorrow, so no time of its own comes due), describe,
// trigger (the run starts under the action's id plus its nominal time and
// completes), list, backfill, pause and unpause with notes, update to a
// cron string in America/New_York (described back as a calendar, next
// times Mondays 9:30 in New York), and delete (describe then fails with
// ScheduleNotFoundError).
'use strict';

const { ScheduleNotFoundError, ScheduleOverlapPolicy } = require('@temporalio/client');
const { check, checkEq, log, newId, runScenario, withWorker } = require('./_common');

const HOUR = 3600 * 1000;

const activities = {
  async composeGreeting(name) {
    return `Hello, ${name}!`;
  },
};

async function waitFor(condition, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

async function scheduleIds(client) {
  const ids = [];
  for await (const schedule of client.schedule.list()) ids.push(schedule.scheduleId);
  return ids;
}

function newYorkParts(date) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: 'America/New_York', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(date);
  return Object.fromEntries(parts.map((part) => [part.type, part.value]));
}

async function main(args) {
  await withWorker(args, 'schedules', activities, async (client, taskQueue) => {
    const scheduleId = newId('ts-schedule');
    const workflowId = newId('ts-greet');
    const tomorrow = new Date(Math.ceil((Date.now() + 24 * HOUR) / HOUR) * HOUR);
    const handle = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }], startAt: tomorrow },
      action: { type: 'startWorkflow', workflowType: 'greetingWorkflow', args: ['schedule'], workflowId, taskQueue },
      memo: { owner: 'ops' },
    });

    let description = await handle.describe();
    checkEq(description.action.workflowType, 'greetingWorkflow', 'the action workflow type');
    checkEq(description.memo, { owner: 'ops' }, 'the memo');
    checkEq(description.info.numActionsTaken, 0, 'actions before any time came');
    checkEq(description.info.nextActionTimes.length, 10, 'next action times');
    checkEq(description.info.nextActionTimes[0].getTime(), tomorrow.getTime(), 'the first time is the start');
    checkEq(description.info.nextActionTimes[1] - description.info.nextActionTimes[0], HOUR, 'hourly');

    await handle.trigger();
    await waitFor(async () => (await handle.describe()).info.numActionsTaken === 1, 'the triggered action');
    description = await handle.describe();
    const action = description.info.recentActions[0];
    const nominal = action.scheduledAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
    checkEq(action.action.workflow.workflowId, `${workflowId}-${nominal}`, 'the run id carries the nominal time');
    checkEq(await client.workflow.getHandle(action.action.workflow.workflowId).result(), 'Hello, schedule!', 'the run result');
    const started = await client.workflow.getHandle(action.action.workflow.workflowId).describe();
    checkEq(started.searchAttributes.TemporalScheduledById, [scheduleId], 'TemporalScheduledById');

    await waitFor(async () => (await scheduleIds(client)).includes(scheduleId), 'the schedule listed');

    await handle.update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: '1h' }], endAt: new Date('2025-01-01T00:00:00Z') },
    }));
    await handle.backfill({
      start: new Date('2024-06-01T08:00:00Z'),
      end: new Date('2024-06-01T09:00:00Z'),
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    });
    await waitFor(async () => (await handle.describe()).info.numActionsTaken === 3, 'the backfilled actions');
    for (const hour of ['08', '09']) {
      const id = `${workflowId}-2024-06-01T${hour}:00:00Z`;
      checkEq(await client.workflow.getHandle(id).result(), 'Hello, schedule!', `backfilled run ${id}`);
    }

    await handle.pause('maintenance');
    description = await handle.describe();
    checkEq([description.state.paused, description.state.note], [true, 'maintenance'], 'paused with a note');
    await handle.unpause('resumed');
    description = await handle.describe();
    checkEq([description.state.paused, description.state.note], [false, 'resumed'], 'unpaused with a note');

    await handle.update((previous) => ({
      ...previous,
      spec: { cronExpressions: ['30 9 * * MON'], timezone: 'America/New_York' },
    }));
    description = await handle.describe();
    checkEq(description.spec.timezone, 'America/New_York', 'the time zone');
    checkEq(description.spec.calendars.length, 1, 'the cron string described as a calendar');
    for (const time of description.info.nextActionTimes) {
      const parts = newYorkParts(time);
      checkEq([parts.weekday, parts.hour, parts.minute], ['Mon', '09', '30'], `${time.toISOString()} in New York`);
    }

    await handle.delete();
    let notFound = null;
    try {
      await handle.describe();
    } catch (error) {
      notFound = error;
    }
    check(notFound instanceof ScheduleNotFoundError, `describe after delete: ${notFound}`);
    await waitFor(async () => !(await scheduleIds(client)).includes(scheduleId), 'the schedule gone from the list');
    log('schedule API verified through the TypeScript SDK');
  });
}

runScenario(main, 'the schedule API through the TypeScript SDK');
