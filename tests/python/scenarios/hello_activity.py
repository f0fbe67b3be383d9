"""Scenario 1: hello activity.

A workflow executes one activity and returns its result.
"""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from _common import check_eq, connect, event_types, log, new_id, run_scenario, for_worker


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def main(args) -> None:
    client: Client = await connect(args)
    task_queue = new_id("hello-activity-tq")
    workflow_id = new_id("hello-activity-wf")
    async with Worker(
        for_worker(client),
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[compose_greeting],
    ):
        handle = await client.start_workflow(
            GreetingWorkflow.run, "World", id=workflow_id, task_queue=task_queue
        )
        result = await handle.result()
        log(f"workflow {workflow_id} returned {result!r}")
        check_eq(result, "Hello, World!", "workflow result")

        history = await handle.fetch_history()
        types = event_types(history)
        check_eq(types[0], "WorkflowExecutionStarted", "first history event")
        check_eq(types[-1], "WorkflowExecutionCompleted", "last history event")
        check_eq(
            types.count("ActivityTaskCompleted"), 1, f"ActivityTaskCompleted events in {types}"
        )


if __name__ == "__main__":
    run_scenario(main, "a workflow executes one activity and returns its result")
