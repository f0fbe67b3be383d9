"""Scenario 7: cancelling a workflow reaches its heartbeating activity.

The workflow runs a long activity that heartbeats (cancellation_type
WAIT_CANCELLATION_COMPLETED, so the workflow waits for the activity to
acknowledge). Once the activity is running, the client cancels the workflow.
Checks: the activity observes cancellation as asyncio.CancelledError, and the
SDK reports the reason as "cancel requested" (learned from a heartbeat
response); handle.result() raises WorkflowFailureError whose cause is a
CancelledError; describe() shows CANCELED; the history has
WorkflowExecutionCancelRequested, ActivityTaskCancelRequested,
ActivityTaskCanceled and ends with WorkflowExecutionCanceled.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.workflow import ActivityCancellationType
from temporalio.worker import Worker

from _common import (
    for_worker,
    check,
    check_eq,
    connect,
    error_chain,
    event_types,
    log,
    new_id,
    run_scenario,
)


class Run:
    activity_running = asyncio.Event()
    heartbeats = 0
    outcome: str | None = None
    cancellation_details = None


@activity.defn
async def render_video(name: str) -> str:
    try:
        # Bounded: if cancellation never arrives, return after ~30 s and let the
        # client-side checks fail.
        for i in range(300):
            activity.heartbeat(i)
            Run.heartbeats += 1
            Run.activity_running.set()
            await asyncio.sleep(0.1)
        Run.outcome = "finished without being cancelled"
        return f"rendered {name}"
    except asyncio.CancelledError:
        Run.outcome = "cancelled"
        Run.cancellation_details = activity.cancellation_details()
        raise


@workflow.defn
class RenderWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            render_video,
            name,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("cancel-tq")
    workflow_id = new_id("cancel-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[RenderWorkflow], activities=[render_video]
    ):
        handle = await client.start_workflow(
            RenderWorkflow.run, "intro.mp4", id=workflow_id, task_queue=task_queue
        )
        await asyncio.wait_for(Run.activity_running.wait(), 20)
        log("activity is running and heartbeating; cancelling the workflow")
        await handle.cancel()

        try:
            result = await handle.result()
        except WorkflowFailureError as err:
            log(f"result() raised {error_chain(err)}")
            check(
                isinstance(err.cause, CancelledError),
                f"cause of WorkflowFailureError should be CancelledError, got {error_chain(err)}",
            )
        else:
            raise AssertionError(f"cancelled workflow returned {result!r}")

        check_eq(Run.outcome, "cancelled", "what the activity observed")
        details = Run.cancellation_details
        log(f"activity cancellation details: {details}")
        check(
            details is not None and details.cancel_requested,
            f"the activity should be cancelled because cancellation was requested, "
            f"got details {details}",
        )

        description = await handle.describe()
        check_eq(description.status, WorkflowExecutionStatus.CANCELED, "describe().status")

        types = event_types(await handle.fetch_history())
        log(f"history: {types}")
        for expected in (
            "WorkflowExecutionCancelRequested",
            "ActivityTaskCancelRequested",
            "ActivityTaskCanceled",
        ):
            check_eq(types.count(expected), 1, f"{expected} events in the history")
        check(
            types.index("WorkflowExecutionCancelRequested")
            < types.index("ActivityTaskCancelRequested")
            < types.index("ActivityTaskCanceled"),
            f"cancellation events out of order: {types}",
        )
        check_eq(types[-1], "WorkflowExecutionCanceled", "last history event")


if __name__ == "__main__":
    run_scenario(main, "cancelling a workflow cancels its heartbeating activity")
