"""Eager workflow start and eager activity dispatch.

A client that asks for an eager start gets the workflow's first workflow
task in its start response, and its worker runs it without polling: the
started event records `eager_execution_accepted` and the first workflow
task's started event carries the start's request id. The worker asks to
run the activities it schedules on its own queue itself: they are started
with the workflow task's completion (their started event's request id is
one the server derived, a version-5 UUID, where matching draws version-4
ones), and the workflow completes as usual.
"""

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class EagerWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(shout, text, start_to_close_timeout=timedelta(seconds=10))


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("eager-tq")
    # Eager start hands the task to a worker of the starting client itself,
    # so this worker shares the client's connection even where other
    # scenarios poll through another gateway (--worker-address).
    async with Worker(client, task_queue=task_queue, workflows=[EagerWorkflow], activities=[shout]):
        handle = await client.start_workflow(
            EagerWorkflow.run, "quick", id=new_id("eager-wf"), task_queue=task_queue, request_eager_start=True
        )
        check_eq(await handle.result(), "QUICK", "result")
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        check(started.eager_execution_accepted, "the started event records the eager start")
        first_task = next(e for e in history.events if e.HasField("workflow_task_started_event_attributes"))
        check_eq(first_task.workflow_task_started_event_attributes.identity, started.identity, "the first task went to the starting client's worker")
        activity_started = next(e for e in history.events if e.HasField("activity_task_started_event_attributes"))
        request_id = activity_started.activity_task_started_event_attributes.request_id
        check_eq(uuid.UUID(request_id).version, 5, f"the activity was started with the workflow task's completion (request id {request_id})")
        log("eager start and eager activity dispatch observed")


if __name__ == "__main__":
    run_scenario(main, "eager workflow start and eager activity dispatch")
