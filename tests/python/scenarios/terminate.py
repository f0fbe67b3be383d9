"""Scenario 8: terminating a running workflow.

A workflow waits for a signal that never comes. Once its first workflow task
has completed, the client terminates it with a reason. Checks:
handle.result() raises WorkflowFailureError whose cause is a TerminatedError
carrying the reason; describe() shows TERMINATED; the history ends with
WorkflowExecutionTerminated carrying the reason.
"""

from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import TerminatedError
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
    wait_for,
)

REASON = "operator stopped it: scenario 8"


@workflow.defn
class WaitForeverWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._done)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self._done = True


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("terminate-tq")
    workflow_id = new_id("terminate-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[WaitForeverWorkflow]):
        handle = await client.start_workflow(
            WaitForeverWorkflow.run, id=workflow_id, task_queue=task_queue
        )

        async def first_task_completed() -> bool:
            return "WorkflowTaskCompleted" in event_types(await handle.fetch_history())

        await wait_for(first_task_completed, "the workflow's first task to complete")
        check_eq(
            (await handle.describe()).status, WorkflowExecutionStatus.RUNNING, "status before"
        )

        await handle.terminate(reason=REASON)
        try:
            result = await handle.result()
        except WorkflowFailureError as err:
            log(f"result() raised {error_chain(err)}")
            check(
                isinstance(err.cause, TerminatedError),
                f"cause of WorkflowFailureError should be TerminatedError, got {error_chain(err)}",
            )
            check_eq(str(err.cause), REASON, "TerminatedError message (the reason)")
        else:
            raise AssertionError(f"terminated workflow returned {result!r}")

        description = await handle.describe()
        check_eq(description.status, WorkflowExecutionStatus.TERMINATED, "describe().status")
        check(description.close_time is not None, "describe().close_time should be set")

        history = await handle.fetch_history()
        last = history.events[-1]
        check_eq(event_types(history)[-1], "WorkflowExecutionTerminated", "last history event")
        check_eq(
            last.workflow_execution_terminated_event_attributes.reason,
            REASON,
            "WorkflowExecutionTerminated.reason",
        )


if __name__ == "__main__":
    run_scenario(main, "a terminated workflow reports TerminatedError and TERMINATED")
