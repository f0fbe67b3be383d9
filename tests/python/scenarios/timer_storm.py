"""Robustness: 20,000 timers due at the same instant.

A workflow starts 20,000 timers of 8 s in one workflow task, so they all
share one fire time (more than one refill of a shard's in-memory timer window
holds). It must complete, every timer fired once; and from when the timers
are due until the workflow completes, canary workflows on the same shard must
each finish within 1 s: a timer storm may not starve the shard's other work.
Then an ordinary workflow completes on every shard.
"""

import asyncio
import time
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, wait_for, for_worker
from _shards import check_every_shard_serves, id_on_shard, namespace_id, shard_of

TIMERS = 20_000
TIMER_SECONDS = 8.0
CANARY_LIMIT_SECONDS = 1.0


@workflow.defn
class TimerStormWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        await asyncio.gather(*(asyncio.sleep(TIMER_SECONDS) for _ in range(count)))
        return count


@workflow.defn
class CanaryWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "alive"


async def run_canaries(client: Client, task_queue: str, shard: int, storm) -> list[float]:
    """Canaries on the storm's shard, one after another, until the storm ends."""
    durations = []
    while True:
        description = await storm.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return durations
        canary_id = await id_on_shard(client, "timer-storm-canary", shard)
        started = time.monotonic()
        result = await client.execute_workflow(CanaryWorkflow.run, id=canary_id, task_queue=task_queue)
        durations.append(time.monotonic() - started)
        check_eq(result, "alive", "canary result")


async def main(args) -> None:
    client: Client = await connect(args)
    storm_queue = new_id("timer-storm-tq")
    canary_queue = new_id("timer-storm-canary-tq")
    storm_id = new_id("timer-storm-wf")
    shard = shard_of(await namespace_id(client), storm_id)
    async with Worker(
        for_worker(client), task_queue=storm_queue, workflows=[TimerStormWorkflow], max_cached_workflows=10
    ), Worker(for_worker(client), task_queue=canary_queue, workflows=[CanaryWorkflow]):
        storm = await client.start_workflow(
            TimerStormWorkflow.run,
            TIMERS,
            id=storm_id,
            task_queue=storm_queue,
            task_timeout=timedelta(seconds=60),
        )
        started_at = time.monotonic()

        async def timers_started() -> bool:
            description = await storm.describe()
            return description.raw_description.workflow_execution_info.history_length > TIMERS

        await wait_for(timers_started, "the storm workflow to start its timers", timeout=60)
        due_in = TIMER_SECONDS - (time.monotonic() - started_at)
        log(f"{TIMERS} timers started; they are due in at most {due_in:.1f}s")
        await asyncio.sleep(max(due_in, 0))
        canary_durations = await run_canaries(client, canary_queue, shard, storm)
        result = await storm.result()
        log(f"the storm workflow finished {time.monotonic() - started_at:.1f}s after its start")
        check_eq(result, TIMERS, "timers the storm workflow waited for")

        history = await storm.fetch_history()
        fired = sum(1 for event in history.events if event.HasField("timer_fired_event_attributes"))
        check_eq(fired, TIMERS, "TimerFired events")
        check(canary_durations, "no canary ran while the timers were pending")
        slowest = max(canary_durations)
        log(f"{len(canary_durations)} canaries on shard {shard}, slowest {slowest:.3f}s")
        check(
            slowest < CANARY_LIMIT_SECONDS,
            f"a canary took {slowest:.3f}s while the timers fired (limit {CANARY_LIMIT_SECONDS}s): {canary_durations}",
        )
    await check_every_shard_serves(client)


if __name__ == "__main__":
    run_scenario(main, "20,000 timers due at once fire and do not starve the shard", timeout=240)
