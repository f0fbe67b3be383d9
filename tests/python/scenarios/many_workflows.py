"""Scenario 12: 200 hello-activity workflows at once.

Starts 200 workflows concurrently (each runs one activity) against one
worker and waits for all of them. Checks: every start succeeds with a
distinct run id and every workflow returns its own correct result.
"""

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, for_worker

COUNT = 200


@activity.defn
async def square(n: int) -> int:
    return n * n


@workflow.defn
class SquareWorkflow:
    @workflow.run
    async def run(self, n: int) -> str:
        result = await workflow.execute_activity(
            square, n, start_to_close_timeout=timedelta(seconds=30)
        )
        return f"{n}^2={result}"


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("many-tq")
    prefix = new_id("many-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[SquareWorkflow], activities=[square]
    ):
        started = time.monotonic()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    SquareWorkflow.run, n, id=f"{prefix}-{n}", task_queue=task_queue
                )
                for n in range(COUNT)
            )
        )
        log(f"started {COUNT} workflows in {time.monotonic() - started:.2f}s")
        run_ids = {h.result_run_id for h in handles}
        check_eq(len(run_ids), COUNT, "distinct run ids")
        results = await asyncio.gather(*(h.result() for h in handles))
        log(f"all {COUNT} finished {time.monotonic() - started:.2f}s after the first start")
        wrong = [
            (n, r) for n, r in enumerate(results) if r != f"{n}^2={n * n}"
        ]
        check(not wrong, f"{len(wrong)} workflows returned wrong results, e.g. {wrong[:5]}")


if __name__ == "__main__":
    run_scenario(main, f"{COUNT} concurrent hello-activity workflows all complete")
