"""Schedules through a SIGKILL of the server and a downtime.

Two schedules fire every two seconds, starting a short workflow each time
(overlap ALLOW_ALL, so every time is a start of its own). One has a catchup
window of ten seconds (Temporal's minimum), the other of an hour. Once both
have acted, the script prints CRASH_POINT; the test driver kills the server
with SIGKILL, keeps it down for longer than the short window, restarts it
on the same data directory and writes RESTARTED to this script's stdin,
with the time it began restarting (no schedule can wake before then).

Then, as Temporal decides after downtime:
- the schedule with the hour-long window starts every time it missed: its
  runs' nominal times follow each other every two seconds without a gap;
- the one with the ten-second window counts the older times as missed and
  runs only those no older than ten seconds when it woke: every run it
  started after the restart is for a time no older than ten seconds before
  the restart began;
- every time started at most one workflow, and every workflow completed
  exactly once (one run per workflow id).
"""

import asyncio
import sys
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from temporalio.worker import Worker

from _common import check, check_eq, connect, for_worker, log, new_id, run_scenario, wait_for

PERIOD = timedelta(seconds=2)
SHORT_WINDOW = timedelta(seconds=10)


@workflow.defn
class Tick:
    @workflow.run
    async def run(self) -> str:
        return "tick"


async def create(client, task_queue: str, label: str, window: timedelta):
    schedule_id = new_id(label)
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Tick.run, id=new_id(f"{label}-tick"), task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=PERIOD)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=window),
        ),
    )
    return schedule_id, handle


async def acted_since(handle, since: datetime) -> bool:
    actions = (await handle.describe()).info.recent_actions
    return any(action.scheduled_at >= since for action in actions)


async def started_runs(client, schedule_id: str) -> list:
    """Every run the schedule started, from visibility: (nominal time, workflow id, status, start time)."""
    runs = []
    async for execution in client.list_workflows(f"TemporalScheduledById = '{schedule_id}'"):
        nominal = execution.search_attributes["TemporalScheduledStartTime"][0]
        runs.append((nominal, execution.id, execution.status, execution.start_time))
    return sorted(runs)


async def all_completed(client, schedule_id: str, at_least: int) -> bool:
    runs = await started_runs(client, schedule_id)
    return len(runs) >= at_least and all(status == WorkflowExecutionStatus.COMPLETED for _, _, status, _ in runs)


async def settled(client, handle, schedule_id: str):
    """The paused schedule's info, once every run it started is listed and completed."""
    info = (await handle.describe()).info
    runs = []

    async def every_run_listed_and_completed() -> bool:
        nonlocal runs
        runs = await started_runs(client, schedule_id)
        return len(runs) == info.num_actions and await all_completed(client, schedule_id, 1)

    await wait_for(every_run_listed_and_completed, f"every run of {schedule_id} completed and listed", timeout=60)
    return info, runs


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("schedules-restart-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Tick]):
        short_id, short = await create(client, task_queue, "short-window", SHORT_WINDOW)
        long_id, long = await create(client, task_queue, "long-window", timedelta(hours=1))
        start = datetime.now(timezone.utc)
        await wait_for(lambda: acted_since(short, start + PERIOD), "the short-window schedule acting", timeout=20)
        await wait_for(lambda: acted_since(long, start + PERIOD), "the long-window schedule acting", timeout=20)
        killed_after = datetime.now(timezone.utc)
        print("CRASH_POINT both schedules acted", flush=True)
        line = (await asyncio.to_thread(sys.stdin.readline)).split()
        check_eq(line[:1], ["RESTARTED"], "line from the test driver on stdin")
        restarted = datetime.fromtimestamp(float(line[1]), timezone.utc)
        log(f"server restarting {(restarted - killed_after).total_seconds():.1f}s after the crash point")

    # A new worker: the old one's connection went with the server.
    client = await connect(args)
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Tick]):
        await wait_for(lambda: acted_since(short, restarted + PERIOD), "the short-window schedule acting again", timeout=30)
        await wait_for(lambda: acted_since(long, restarted + PERIOD), "the long-window schedule acting again", timeout=30)
        await short.pause(note="checking")
        await long.pause(note="checking")

        long_info, long_runs = await settled(client, long, long_id)
        long_times = [nominal for nominal, _, _, _ in long_runs]
        check_eq(long_info.num_actions_missed_catchup_window, 0, "times missed within an hour-long window")
        gaps = [(a, b) for a, b in zip(long_times, long_times[1:]) if b - a != PERIOD]
        check_eq(gaps, [], "the long-window schedule ran every time, the downtime's included")
        check(long_times[0] < killed_after and long_times[-1] > restarted, "its runs span the downtime")
        made_up = [nominal for nominal, _, _, started in long_runs if started >= restarted and nominal < restarted]
        check(any(t < restarted - SHORT_WINDOW for t in made_up), f"it made up times older than ten seconds: {made_up}")

        short_info, short_runs = await settled(client, short, short_id)
        short_times = [nominal for nominal, _, _, _ in short_runs]
        missed = short_info.num_actions_missed_catchup_window
        check(missed >= 1, "times older than the ten-second window are missed")
        caught_up = [nominal for nominal, _, _, started in short_runs if started >= restarted and nominal < restarted]
        too_old = [t for t in caught_up if t < restarted - SHORT_WINDOW]
        check_eq(too_old, [], "no run after the restart for a time older than the window")
        check(caught_up, "the times within the window when it woke did run")
        expected_times = int((short_times[-1] - short_times[0]) / PERIOD) + 1
        check_eq(len(short_times) + missed, expected_times, "every time either ran once or was missed")

        for schedule_id, runs in ((long_id, long_runs), (short_id, short_runs)):
            ids = [workflow_id for _, workflow_id, _, _ in runs]
            check_eq(len(ids), len(set(ids)), f"one run per workflow id for {schedule_id}")
        log(f"long window: {len(long_times)} runs, none missed; short window: {len(short_times)} runs, "
            f"{missed} missed, {len(caught_up)} caught up after the restart")
        await short.delete()
        await long.delete()


def add_arguments(parser) -> None:
    parser.add_argument("--crash-handshake", action="store_true", help="wait for RESTARTED after CRASH_POINT")


if __name__ == "__main__":
    run_scenario(main, "schedules through a SIGKILL and a downtime, with the catchup window deciding",
                 timeout=240.0, add_arguments=add_arguments)
