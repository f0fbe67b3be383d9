"""Schedules through the Python SDK's schedule API.

A schedule is created with an hourly interval that begins tomorrow (so no
time of its own comes due during the scenario), and then:

- described: its spec, action, memo, the next ten hourly times, no actions;
- triggered: the run starts under the action's workflow id plus the
  nominal time, completes, and carries TemporalScheduledById and
  TemporalScheduledStartTime;
- listed, also filtered by ScheduleId;
- updated to an hourly spec that ended in 2025, and backfilled over three
  hours of 2024: three runs, one per hour, both ends included;
- paused and unpaused with notes;
- updated to a cron string in America/New_York with a new argument: the
  spec comes back as a structured calendar, the next times are Mondays at
  9:30 in New York (across the DST change), ListScheduleMatchingTimes gives
  the same, and a trigger runs the new action;
- refused: an update with a stale conflict token (FAILED_PRECONDITION), a
  second schedule with the same id, an invalid cron string and an unknown
  time zone (INVALID_ARGUMENT);
- deleted: describe answers NOT_FOUND and the list drops it.

A schedule that pauses on failure pauses when the run it started fails,
with Temporal's note naming the run and the failure.

Then the overlap policies, with a schedule firing every second and a
workflow that runs until signalled: under SKIP the times that come while it
runs are passed over and the next run is for a time after it closed; under
BUFFER_ONE the first time that came while it ran is kept and starts as soon
as it closes.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest, UpdateScheduleRequest
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    WorkflowExecutionStatus,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, expect_rpc_error, for_worker, log, new_id, run_scenario, wait_for

NEW_YORK = ZoneInfo("America/New_York")


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


@workflow.defn
class Fail:
    @workflow.run
    async def run(self) -> str:
        raise ApplicationError("the report could not be built", non_retryable=True)


@workflow.defn
class Gate:
    """Runs until released by a signal."""

    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"


def nominal_suffix(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def lifecycle(client, task_queue: str) -> None:
    schedule_id = new_id("sched")
    workflow_id = new_id("greet")
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Greet.run, "world", id=workflow_id, task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))], start_at=tomorrow),
        ),
        memo={"owner": "ops"},
    )

    description = await handle.describe()
    spec = description.schedule.spec
    check_eq([interval.every for interval in spec.intervals], [timedelta(hours=1)], "the interval")
    check_eq(description.schedule.action.workflow, "Greet", "the action's workflow type")
    check_eq(description.schedule.action.id, workflow_id, "the action's workflow id")
    check_eq(await description.memo_value("owner"), "ops", "the schedule's memo")
    check_eq(description.info.num_actions, 0, "actions before any time came")
    upcoming = description.info.next_action_times
    check_eq(len(upcoming), 10, "next action times shown")
    check_eq(upcoming[0], tomorrow, "the first time is the start, on the hour")
    check_eq([b - a for a, b in zip(upcoming, upcoming[1:])], [timedelta(hours=1)] * 9, "hourly times")

    await handle.trigger()
    await wait_for(lambda: actions_at_least(handle, 1), "the triggered action recorded")
    action = (await handle.describe()).info.recent_actions[0]
    started_id = action.action.workflow_id
    check(started_id.startswith(workflow_id + "-"), f"the run's id is the action's plus its time: {started_id}")
    check_eq(started_id, f"{workflow_id}-{nominal_suffix(action.scheduled_at)}", "the id carries the nominal time")
    run = client.get_workflow_handle(started_id)
    check_eq(await run.result(), "hello world", "the triggered run's result")
    attributes = (await run.describe()).search_attributes
    check_eq(attributes.get("TemporalScheduledById"), [schedule_id], "TemporalScheduledById")
    scheduled_start = attributes.get("TemporalScheduledStartTime")
    check_eq([t.replace(microsecond=0) for t in scheduled_start], [action.scheduled_at.replace(microsecond=0)],
             "TemporalScheduledStartTime")

    await wait_for(lambda: listed(client, schedule_id), "the schedule in ListSchedules")
    filtered = [s.id async for s in await client.list_schedules(query=f"ScheduleId = '{schedule_id}'")]
    check_eq(filtered, [schedule_id], "ListSchedules filtered by ScheduleId")

    await backfill_three_hours(client, handle, workflow_id)
    await pause_and_unpause(client, handle, schedule_id)
    await update_to_new_york_cron(client, handle, schedule_id, task_queue)
    await refusals(client, handle, schedule_id, task_queue)

    await handle.delete()
    await expect_rpc_error("describe after delete", handle.describe(), RPCStatusCode.NOT_FOUND, "schedule not found")
    await wait_for(lambda: not_listed(client, schedule_id), "the deleted schedule gone from ListSchedules")
    log("schedule lifecycle verified")


async def backfill_three_hours(client, handle, workflow_id: str) -> None:
    # Backfills take the spec's times, within its start and end: an hourly
    # spec that ended in 2025 has no times to come but has them in 2024.
    def hourly_until_2025(update_input):
        schedule = update_input.description.schedule
        schedule.spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))],
                                     end_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
        return ScheduleUpdate(schedule=schedule)

    await handle.update(hourly_until_2025)
    check_eq((await handle.describe()).info.next_action_times, [], "no times after the spec's end")
    start = datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    await handle.backfill(ScheduleBackfill(start_at=start, end_at=start + timedelta(hours=2),
                                           overlap=ScheduleOverlapPolicy.ALLOW_ALL))
    await wait_for(lambda: actions_at_least(handle, 4), "the three backfilled actions recorded")
    check_eq((await handle.describe()).info.num_actions, 4, "actions after the backfill")
    for hour in (10, 11, 12):
        run_id = f"{workflow_id}-2024-03-01T{hour}:00:00Z"
        check_eq(await client.get_workflow_handle(run_id).result(), "hello world", f"backfilled run {run_id}")


async def pause_and_unpause(client, handle, schedule_id: str) -> None:
    await handle.pause(note="maintenance window")
    state = (await handle.describe()).schedule.state
    check_eq((state.paused, state.note), (True, "maintenance window"), "paused with its note")

    async def listed_paused() -> bool:
        async for entry in await client.list_schedules(query=f"ScheduleId = '{schedule_id}'"):
            return entry.schedule.state.paused and entry.schedule.state.note == "maintenance window"
        return False

    await wait_for(listed_paused, "ListSchedules shows the pause")
    await handle.unpause(note="back to normal")
    state = (await handle.describe()).schedule.state
    check_eq((state.paused, state.note), (False, "back to normal"), "unpaused with its note")


async def update_to_new_york_cron(client, handle, schedule_id: str, task_queue: str) -> None:
    def to_cron(update_input):
        schedule = update_input.description.schedule
        schedule.spec = ScheduleSpec(cron_expressions=["30 9 * * MON"], time_zone_name="America/New_York")
        schedule.action.args = ["updated"]
        return ScheduleUpdate(schedule=schedule)

    await handle.update(to_cron)
    description = await handle.describe()
    spec = description.schedule.spec
    check_eq(spec.cron_expressions, [], "cron strings come back structured")
    check_eq(spec.time_zone_name, "America/New_York", "the cron's time zone")
    check_eq(len(spec.calendars), 1, "one calendar from the cron string")
    calendar = spec.calendars[0]
    check_eq((list(calendar.hour), list(calendar.minute), list(calendar.day_of_week)),
             ([ScheduleRange(9)], [ScheduleRange(30)], [ScheduleRange(1)]), "the calendar of 30 9 * * MON")
    times = description.info.next_action_times
    check_eq(len(times), 10, "next action times")
    for time in times:
        local = time.astimezone(NEW_YORK)
        check_eq((local.weekday(), local.hour, local.minute), (0, 9, 30), f"{time} is Monday 9:30 in New York")
    check(description.info.last_updated_at is not None, "the update time is shown")

    # Across the end of daylight saving time: 9:30 is 13:30 UTC before, 14:30 after.
    response = await client.workflow_service.list_schedule_matching_times(ListScheduleMatchingTimesRequest(
        namespace=client.namespace,
        schedule_id=schedule_id,
        start_time=timestamp(datetime(2026, 10, 25, tzinfo=timezone.utc)),
        end_time=timestamp(datetime(2026, 11, 10, tzinfo=timezone.utc)),
    ))
    matching = [t.ToDatetime(tzinfo=timezone.utc) for t in response.start_time]
    check_eq(matching, [datetime(2026, 10, 26, 13, 30, tzinfo=timezone.utc),
                        datetime(2026, 11, 2, 14, 30, tzinfo=timezone.utc),
                        datetime(2026, 11, 9, 14, 30, tzinfo=timezone.utc)], "matching times across the DST change")

    before = (await handle.describe()).info.num_actions
    await handle.trigger()
    await wait_for(lambda: actions_at_least(handle, before + 1), "the updated action triggered")
    newest = (await handle.describe()).info.recent_actions[-1]
    check_eq(await client.get_workflow_handle(newest.action.workflow_id).result(), "hello updated",
             "the trigger runs the updated action")


async def refusals(client, handle, schedule_id: str, task_queue: str) -> None:
    description = await handle.describe()
    stale = UpdateScheduleRequest(
        namespace=client.namespace,
        schedule_id=schedule_id,
        schedule=description.raw_description.schedule,
        conflict_token=(1).to_bytes(8, "big"),
        identity="scenario",
        request_id=new_id("update"),
    )
    await expect_rpc_error("an update with a stale conflict token", client.workflow_service.update_schedule(stale),
                           RPCStatusCode.FAILED_PRECONDITION, "mismatched conflict token")

    def schedule_with(spec: ScheduleSpec) -> Schedule:
        return Schedule(action=ScheduleActionStartWorkflow(Greet.run, "x", id=new_id("bad"), task_queue=task_queue),
                        spec=spec)

    try:
        await client.create_schedule(schedule_id, schedule_with(ScheduleSpec()))
        raise AssertionError("a second schedule with the same id was accepted")
    except ScheduleAlreadyRunningError:
        pass
    await expect_rpc_error("an invalid cron string",
                           client.create_schedule(new_id("bad"), schedule_with(ScheduleSpec(cron_expressions=["61 * * * *"]))),
                           RPCStatusCode.INVALID_ARGUMENT, "Invalid schedule spec")
    await expect_rpc_error("an unknown time zone",
                           client.create_schedule(new_id("bad"), schedule_with(
                               ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))],
                                            time_zone_name="Mars/Olympus"))),
                           RPCStatusCode.INVALID_ARGUMENT, "Mars/Olympus")
    await expect_rpc_error("a calendar field out of range",
                           client.create_schedule(new_id("bad"), schedule_with(ScheduleSpec(
                               calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(25)])]))),
                           RPCStatusCode.INVALID_ARGUMENT, "Hour")


async def overlap(client, task_queue: str, policy: ScheduleOverlapPolicy) -> None:
    schedule_id = new_id(f"overlap-{policy.name.lower()}")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Gate.run, id=new_id("gate"), task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
            policy=SchedulePolicy(overlap=policy),
        ),
    )
    await wait_for(lambda: actions_at_least(handle, 1), "the first gated run started", timeout=10)
    first = (await handle.describe()).info.recent_actions[0]
    running = [action.workflow_id for action in (await handle.describe()).info.running_actions]
    check_eq(running, [first.action.workflow_id], "the gated run is shown running")

    async def skipped_twice() -> bool:
        return (await handle.describe()).info.num_actions_skipped_overlap >= 2

    if policy == ScheduleOverlapPolicy.SKIP:
        await wait_for(skipped_twice, "two times passed over while the first run runs", timeout=10)
    else:
        # Buffer one: the first time that comes is kept, the next ones dropped.
        await wait_for(skipped_twice, "times after the buffered one dropped", timeout=10)
    check_eq((await handle.describe()).info.num_actions, 1, "nothing else starts while the first runs")

    first_run = client.get_workflow_handle(first.action.workflow_id)
    await first_run.signal(Gate.release)
    check_eq(await first_run.result(), "released", "the first run")
    closed_at = (await first_run.describe()).close_time
    await wait_for(lambda: actions_at_least(handle, 2), "the next run started", timeout=10)
    second = (await handle.describe()).info.recent_actions[1]
    await handle.pause(note="checking")
    if policy == ScheduleOverlapPolicy.SKIP:
        check(second.scheduled_at > closed_at,
              f"under SKIP the next run is for a time after the first closed: {second.scheduled_at} vs {closed_at}")
    else:
        check_eq(second.scheduled_at, first.scheduled_at + timedelta(seconds=1),
                 "under BUFFER_ONE the next run is the first time that came while the first ran")
        check(second.scheduled_at < closed_at, "the buffered time came before the first run closed")
    for action in (await handle.describe()).info.recent_actions[1:]:
        gated = client.get_workflow_handle(action.action.workflow_id)
        if (await gated.describe()).status == WorkflowExecutionStatus.RUNNING:
            await gated.signal(Gate.release)
    await handle.delete()
    log(f"overlap policy {policy.name} verified")


async def pause_on_failure(client, task_queue: str) -> None:
    handle = await client.create_schedule(
        new_id("pause-on-failure"),
        Schedule(
            action=ScheduleActionStartWorkflow(Fail.run, id=new_id("failing"), task_queue=task_queue),
            spec=ScheduleSpec(),
            policy=SchedulePolicy(pause_on_failure=True),
        ),
    )
    await handle.trigger()

    async def paused() -> bool:
        return (await handle.describe()).schedule.state.paused

    await wait_for(paused, "the schedule paused by the failure")
    description = await handle.describe()
    failed_id = description.info.recent_actions[0].action.workflow_id
    check_eq(description.schedule.state.note,
             f"paused due to workflow failure: {failed_id}: the report could not be built", "the pause note")
    check_eq(description.info.running_actions, [], "nothing running after the failure")
    await handle.delete()
    log("pause on failure verified")


async def actions_at_least(handle, count: int) -> bool:
    return (await handle.describe()).info.num_actions >= count


async def listed(client, schedule_id: str) -> bool:
    return schedule_id in [s.id async for s in await client.list_schedules()]


async def not_listed(client, schedule_id: str) -> bool:
    return not await listed(client, schedule_id)


def timestamp(when: datetime):
    from google.protobuf.timestamp_pb2 import Timestamp

    result = Timestamp()
    result.FromDatetime(when)
    return result


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("schedules-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Greet, Gate, Fail]):
        await lifecycle(client, task_queue)
        await pause_on_failure(client, task_queue)
        await overlap(client, task_queue, ScheduleOverlapPolicy.SKIP)
        await overlap(client, task_queue, ScheduleOverlapPolicy.BUFFER_ONE)


if __name__ == "__main__":
    run_scenario(main, "the schedule API: create, describe, list, trigger, backfill, pause, update, delete, overlap",
                 timeout=120.0)
