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
        check_normalized_fields(history)


def check_normalized_fields(history) -> None:
    """Temporal writes the activity timeouts it normalized into the events
    even when they are zero ("0s", meaning none), and the task timeout and
    first-task backoff into the started event; SDKs such as TypeScript's read
    them as present. (The run and execution timeouts appear only when the
    client sent them: the Python SDK sends neither unless set.)"""
    started = history.events[0].workflow_execution_started_event_attributes
    for field in ("workflow_task_timeout", "first_workflow_task_backoff"):
        check_eq(started.HasField(field), True, f"WorkflowExecutionStarted has {field}")
    for field in ("workflow_execution_timeout", "workflow_run_timeout"):
        check_eq(started.HasField(field), False, f"WorkflowExecutionStarted has {field}, which the client did not send")
    scheduled = next(e for e in history.events if e.HasField("activity_task_scheduled_event_attributes"))
    attributes = scheduled.activity_task_scheduled_event_attributes
    for field in ("schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout", "heartbeat_timeout", "retry_policy"):
        check_eq(attributes.HasField(field), True, f"ActivityTaskScheduled has {field}")
    check_eq(attributes.start_to_close_timeout.ToSeconds(), 10, "start-to-close as the workflow set it")
    check_eq(attributes.schedule_to_close_timeout.ToSeconds(), 0, "schedule-to-close: none, the run being unbounded")
    check_eq(attributes.retry_policy.maximum_interval.ToSeconds(), 100, "the retry policy's default maximum interval")


if __name__ == "__main__":
    run_scenario(main, "a workflow executes one activity and returns its result")
