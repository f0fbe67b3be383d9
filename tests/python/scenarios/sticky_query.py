"""Queries go to the sticky worker that has the run cached, and to the
normal queue when that worker is gone.

A workflow waits for a signal; its worker (which keeps the run cached on its
sticky queue) answers a query. That worker then shuts down and another
starts on the same task queue: a query is still answered (the server sends
it to the normal queue with the whole history, and clears the run's
stickiness), and the signal that follows is processed by the new worker,
which completes the workflow.
"""

from temporalio import workflow
from temporalio.worker import Worker

from _common import check_eq, connect, event_types, log, new_id, run_scenario, wait_for, workflow_tasks_completed, for_worker


@workflow.defn
class Waiting:
    def __init__(self) -> None:
        self.notes: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: "done" in self.notes)
        return self.notes

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.query
    def seen(self) -> list[str]:
        return self.notes


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("sticky-query-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Waiting]):
        handle = await client.start_workflow(Waiting.run, id=new_id("sticky-query-wf"), task_queue=task_queue)
        await wait_for(workflow_tasks_completed(handle, 1), "the first workflow task")
        await handle.signal(Waiting.note, "first")
        # Once the worker has processed the signal, it has the run cached.
        await wait_for(workflow_tasks_completed(handle, 2), "the workflow task for the signal")
        check_eq(await handle.query(Waiting.seen), ["first"], "the query answered by the caching worker")
    log("the first worker shut down")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Waiting]):
        check_eq(await handle.query(Waiting.seen), ["first"], "the query answered by a worker without the run cached")
        await handle.signal(Waiting.note, "done")
        check_eq(await handle.result(), ["first", "done"], "the workflow, completed by the second worker")


if __name__ == "__main__":
    run_scenario(main, "queries go to the sticky worker, then to the normal queue when it is gone")
