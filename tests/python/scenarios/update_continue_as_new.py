"""An update that arrives while its workflow continues as new goes to the new run.

A workflow's first run waits for a signal, then (its workflow task held a
moment by a blocking sleep, so the update arrives while the task is in
flight) continues as new. An update sent meanwhile, to the workflow id
alone, is admitted by the old run; as the old run closes without having
accepted it, it is aborted there and sent on to the new run, as Temporal's
history retries it, and the new run answers it. An update aimed at the old
run by its run id, once that run has closed, fails with NOT_FOUND.
"""

import asyncio
import time

from temporalio import workflow
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, for_worker, log, new_id, run_scenario, wait_for


@workflow.defn(name="RollsOver")
class RollsOver:
    def __init__(self) -> None:
        self.roll = False

    @workflow.signal
    def roll_over(self) -> None:
        self.roll = True

    @workflow.update
    def greet(self, name: str) -> str:
        return f"hello {name} from {workflow.info().run_id}"

    @workflow.run
    async def run(self, generation: int) -> None:
        if generation == 0:
            await workflow.wait_condition(lambda: self.roll)
            with workflow.unsafe.sandbox_unrestricted():
                # Holds this workflow task, so the update arrives during it.
                time.sleep(1.0)
            workflow.continue_as_new(1)
        await workflow.wait_condition(lambda: False)


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("update-can-tq")
    workflow_id = new_id("update-can")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[RollsOver]):
        first = await client.start_workflow(RollsOver.run, 0, id=workflow_id, task_queue=task_queue)
        await first.signal(RollsOver.roll_over)

        async def rolling_over_started() -> bool:
            types = event_types(await first.fetch_history())
            return "WorkflowExecutionSignaled" in types and types[-1] == "WorkflowTaskStarted"

        await wait_for(rolling_over_started, "the workflow task that continues as new to start", interval=0.05)
        latest = client.get_workflow_handle(workflow_id)
        greeting = await latest.execute_update(RollsOver.greet, "during")
        description = await latest.describe()
        check(description.run_id != first.first_execution_run_id, "the workflow continued as new")
        check_eq(greeting, f"hello during from {description.run_id}", "the update's answer, from the new run")
        log(f"{workflow_id}: the update sent during the roll-over was answered by the new run")

        old_run = client.get_workflow_handle(workflow_id, run_id=first.first_execution_run_id)
        try:
            await old_run.execute_update(RollsOver.greet, "old")
            raise AssertionError("an update aimed at the closed run by its id succeeded")
        except (RPCError, WorkflowUpdateFailedError) as err:
            cause = err if isinstance(err, RPCError) else err.cause
            log(f"an update aimed at the closed run: {cause!r}")
            check(isinstance(cause, RPCError) and cause.status == RPCStatusCode.NOT_FOUND, f"NOT_FOUND, got {cause!r}")
        await latest.terminate("checked")


if __name__ == "__main__":
    run_scenario(main, "an update sent while its workflow continues as new")
