"""Scenario 10: starting a workflow with the id of a running workflow.

Checks: the second start_workflow raises WorkflowAlreadyStartedError naming
the workflow id, type and the running workflow's run id; the first workflow
is unaffected (it still completes normally afterwards) and no second run
was created.
"""

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from _common import check_eq, connect, event_types, log, new_id, run_scenario, for_worker


@workflow.defn
class SingletonWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self, label: str) -> str:
        await workflow.wait_condition(lambda: self._done)
        return f"{label} done"

    @workflow.signal
    def finish(self) -> None:
        self._done = True


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("duplicate-id-tq")
    workflow_id = new_id("duplicate-id-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[SingletonWorkflow]):
        first = await client.start_workflow(
            SingletonWorkflow.run, "first", id=workflow_id, task_queue=task_queue
        )
        try:
            second = await client.start_workflow(
                SingletonWorkflow.run, "second", id=workflow_id, task_queue=task_queue
            )
        except WorkflowAlreadyStartedError as err:
            log(
                f"second start raised WorkflowAlreadyStartedError(workflow_id={err.workflow_id!r}, "
                f"workflow_type={err.workflow_type!r}, run_id={err.run_id!r})"
            )
            check_eq(err.workflow_id, workflow_id, "error's workflow_id")
            check_eq(err.workflow_type, "SingletonWorkflow", "error's workflow_type")
            check_eq(err.run_id, first.first_execution_run_id, "error's run_id (the running run)")
        else:
            raise AssertionError(
                f"second start with a running workflow's id succeeded (run {second.result_run_id})"
            )

        await first.signal(SingletonWorkflow.finish)
        check_eq(await first.result(), "first done", "first workflow's result")
        # The latest run for this id is still the first one.
        latest = client.get_workflow_handle(workflow_id)
        description = await latest.describe()
        check_eq(description.run_id, first.first_execution_run_id, "latest run id")
        types = event_types(await latest.fetch_history())
        check_eq(types.count("WorkflowExecutionStarted"), 1, "WorkflowExecutionStarted events")


if __name__ == "__main__":
    run_scenario(main, "a second start with a running workflow's id is rejected")
