"""A workflow cached by a worker that shut down moves on at once.

Worker A runs a workflow through its first signal, so the run is sticky to
A's queue, then shuts down (the SDK tells the server: ShutdownWorker).
Worker B, on the same task queue, takes over. The next signal's workflow
task is scheduled on A's sticky queue; since nobody polls it any more, the
server moves it to the normal queue at once, as Temporal's does when
matching answers StickyWorkerUnavailable, instead of letting it wait out
its sticky schedule-to-start timeout: the history has no workflow task
timeout, and B completes the workflow.
"""

from temporalio import workflow
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, for_worker, log, new_id, run_scenario, wait_for


@workflow.defn(name="CollectsTwo")
class CollectsTwo:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.seen.append(value)

    @workflow.query
    def values(self) -> list[str]:
        return self.seen

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.seen) == 2)
        return self.seen


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("sticky-shutdown-tq")
    workflow_id = new_id("sticky-shutdown")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CollectsTwo], identity="worker-a"):
        handle = await client.start_workflow(CollectsTwo.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(CollectsTwo.add, "a")

        async def first_signal_handled() -> bool:
            return await handle.query(CollectsTwo.values) == ["a"]

        await wait_for(first_signal_handled, "worker A to handle the first signal")
    log("worker A shut down with the run cached")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CollectsTwo], identity="worker-b"):
        await handle.signal(CollectsTwo.add, "b")
        check_eq(await handle.result(), ["a", "b"], "the result, completed by worker B")
    history = await handle.fetch_history()
    types = event_types(history)
    check("WorkflowTaskTimedOut" not in types, f"no workflow task waited out a sticky timeout: {types}")
    log(f"{workflow_id}: moved to worker B without a timeout: {types}")


if __name__ == "__main__":
    run_scenario(main, "a run cached by a worker that shut down moves on at once")
