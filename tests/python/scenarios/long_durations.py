"""Robustness: durations of a thousand years.

Timeouts, timers and retry delays far beyond what nanoseconds since 1970 can
count must neither overflow into "already due" (the run would time out at
once) nor crash the server. A workflow with 1,000-year execution and run
timeouts starts a 1,000-year timer and an activity with 1,000-year
start-to-close and heartbeat timeouts whose first attempt asks for a retry in
a week; it is still running (the activity waiting for its second attempt),
and completes when signalled. Then an ordinary workflow completes on every
shard. (Retry delays past what nanoseconds can count are covered by the state
machine's unit tests: Temporal gives up on an activity whose delay runs past
its own bounded expiration, so the two servers differ there.)
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from _common import check_eq, connect, log, new_id, run_scenario, wait_for, for_worker
from _shards import check_every_shard_serves

MILLENNIUM = timedelta(days=365 * 1000)
A_WEEK = timedelta(days=7)


@activity.defn
async def retry_next_week() -> str:
    raise ApplicationError("not now", next_retry_delay=A_WEEK)


@workflow.defn
class MillenniumWorkflow:
    def __init__(self) -> None:
        self.finish = False

    @workflow.signal
    def done(self) -> None:
        self.finish = True

    @workflow.run
    async def run(self) -> str:
        timer = asyncio.ensure_future(workflow.sleep(MILLENNIUM))
        workflow.start_activity(
            retry_next_week, start_to_close_timeout=MILLENNIUM, heartbeat_timeout=MILLENNIUM
        )
        await workflow.wait_condition(lambda: self.finish)
        timer.cancel()
        return "finished"


async def main(args) -> None:
    client: Client = await connect(args)
    task_queue = new_id("long-durations-tq")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[MillenniumWorkflow], activities=[retry_next_week]
    ):
        handle = await client.start_workflow(
            MillenniumWorkflow.run,
            id=new_id("long-durations-wf"),
            task_queue=task_queue,
            execution_timeout=MILLENNIUM,
            run_timeout=MILLENNIUM,
        )

        async def waiting_for_second_attempt() -> bool:
            description = await handle.describe()
            check_eq(description.status, WorkflowExecutionStatus.RUNNING, "status while waiting")
            pending = description.raw_description.pending_activities
            return bool(pending) and pending[0].attempt == 2

        await wait_for(waiting_for_second_attempt, "the activity to wait for its second attempt")
        log("running, with the activity's retry a week away")
        await handle.signal(MillenniumWorkflow.done)
        check_eq(await handle.result(), "finished", "workflow result")
    await check_every_shard_serves(client)


if __name__ == "__main__":
    run_scenario(main, "thousand-year durations neither overflow nor crash", timeout=120)
