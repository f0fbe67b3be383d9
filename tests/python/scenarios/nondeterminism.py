"""A non-determinism failure is retried, not fatal, as in Temporal.

A workflow's code changes under it: after its first workflow task the
worker is replaced by one whose workflow code schedules a timer where the
history has an activity. Replaying, the new worker fails the workflow task
(cause NON_DETERMINISTIC_ERROR); the run stays open and the task is retried.
Once a worker with the original code is back, the workflow completes.
"""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from _common import check_eq, connect, log, new_id, run_scenario, wait_for, workflow_tasks_completed, for_worker

# Which code the workflow runs: flipped between workers of this process.
CODE = {"changed": False}


@activity.defn
async def step() -> str:
    return "stepped"


@workflow.defn(sandboxed=False)
class Changing:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        if CODE["changed"]:
            await workflow.sleep(timedelta(seconds=1))
        else:
            await workflow.execute_activity(step, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self.go)
        return "done"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("nondeterminism-tq")
    worker_client = for_worker(client)
    async with Worker(worker_client, task_queue=task_queue, workflows=[Changing], activities=[step]):
        handle = await client.start_workflow(Changing.run, id=new_id("nondeterminism-wf"), task_queue=task_queue)
        await wait_for(workflow_tasks_completed(handle, 2), "the activity's result processed")

    CODE["changed"] = True
    async with Worker(worker_client, task_queue=task_queue, workflows=[Changing], activities=[step]):
        await handle.signal(Changing.proceed)

        async def failed_as_nondeterministic() -> bool:
            history = await handle.fetch_history()
            return any(
                e.HasField("workflow_task_failed_event_attributes")
                and e.workflow_task_failed_event_attributes.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
                for e in history.events
            )

        await wait_for(failed_as_nondeterministic, "a workflow task failed as non-deterministic")
        check_eq((await handle.describe()).status, WorkflowExecutionStatus.RUNNING, "the run after the failure")

    CODE["changed"] = False
    async with Worker(worker_client, task_queue=task_queue, workflows=[Changing], activities=[step]):
        check_eq(await handle.result(), "done", "the workflow, once the original code is back")
    log("a non-deterministic task failed, was retried, and the workflow completed")


if __name__ == "__main__":
    run_scenario(main, "a non-determinism failure is retried, not fatal")
