"""Scenario 15: everyday SDK features beyond plain activities.

A workflow that a Temporal user writes without thinking twice:
  - a local activity (recorded as a marker, no activity task);
  - `workflow.patched()` (a version marker plus the TemporalChangeVersion
    search attribute upsert);
  - ten activities in parallel with asyncio.gather;
  - `workflow.upsert_memo` (ModifyWorkflowProperties);
  - `workflow.wait_condition` released by a signal.
The result must be exact, the history must hold the markers and the memo
change, and describe() must show the upserted memo.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, log, new_id, run_scenario, for_worker


@activity.defn
async def double(value: int) -> int:
    return value * 2


@workflow.defn
class FeaturesWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> list:
        local = await workflow.execute_local_activity(double, 21, start_to_close_timeout=timedelta(seconds=10))
        patched = workflow.patched("features-v2")
        parallel = await asyncio.gather(
            *[workflow.execute_activity(double, n, start_to_close_timeout=timedelta(seconds=10)) for n in range(10)]
        )
        workflow.upsert_memo({"stage": "parallel-done"})
        await workflow.wait_condition(lambda: self.released)
        return [local, patched, list(parallel)]


async def main(args) -> None:
    client: Client = await connect(args)
    task_queue = new_id("sdk-features-tq")
    workflow_id = new_id("sdk-features-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[FeaturesWorkflow], activities=[double]):
        handle = await client.start_workflow(FeaturesWorkflow.run, id=workflow_id, task_queue=task_queue)
        # The workflow waits for the signal only after the memo upsert.
        async def memo_written() -> bool:
            description = await handle.describe()
            return (await description.memo()).get("stage") == "parallel-done"

        deadline = asyncio.get_running_loop().time() + 30
        while not await memo_written():
            check(asyncio.get_running_loop().time() < deadline, "the memo upsert never showed in describe()")
            await asyncio.sleep(0.05)
        await handle.signal(FeaturesWorkflow.release)
        result = await handle.result()
        log(f"workflow {workflow_id} returned {result!r}")
        check_eq(result, [42, True, [n * 2 for n in range(10)]], "workflow result")

        types = event_types(await handle.fetch_history())
        check_eq(types.count("MarkerRecorded"), 2, f"local activity and patch markers in {types}")
        check_eq(types.count("ActivityTaskCompleted"), 10, f"parallel activities in {types}")
        check("UpsertWorkflowSearchAttributes" in types, f"patched() upserts TemporalChangeVersion: {types}")
        check("WorkflowPropertiesModified" in types, f"upsert_memo records the change: {types}")
        check_eq(types[-1], "WorkflowExecutionCompleted", "last history event")


if __name__ == "__main__":
    run_scenario(main, "local activity, patched(), parallel activities, memo upsert and wait_condition")
