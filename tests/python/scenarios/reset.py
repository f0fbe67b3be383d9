"""ResetWorkflowExecution: back to the first workflow task, signals reapplied.

A workflow collects two signals and returns them. After the first signal,
the workflow is reset to its first workflow task: the old run ends
terminated with the reset's reason; the new run keeps the history up to that
task, whose failure (cause RESET_WORKFLOW) names both runs, and gets the
first signal again; the second signal, sent to the workflow id, completes
it. A second reset goes through the official CLI (`temporal workflow reset
--type LastWorkflowTask`). A reset point that is not a workflow task event
is refused with INVALID_ARGUMENT.
"""

import os
import subprocess
import sys

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from differential import AwaitSignal
from _common import check, check_eq, connect, event_types, expect_rpc_error, log, new_id, run_scenario, wait_for, workflow_tasks_completed, for_worker


# Collects two `add` signals and returns them.
CollectTwo = AwaitSignal


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("reset-tq")
    workflow_id = new_id("reset-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CollectTwo]):
        handle = await client.start_workflow(CollectTwo.run, id=workflow_id, task_queue=task_queue)

        # The signal comes after the first workflow task, so that resetting
        # to that task applies it again.
        await wait_for(workflow_tasks_completed(handle, 1), "the first workflow task")
        await handle.signal(CollectTwo.add, "a")
        await wait_for(workflow_tasks_completed(handle, 2), "the workflow task after the signal")
        old_run = handle.result_run_id
        first_completed = next(e.event_id for e in (await handle.fetch_history()).events
                               if e.HasField("workflow_task_completed_event_attributes"))
        reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=old_run),
            reason="try again",
            workflow_task_finish_event_id=first_completed,
            request_id=new_id("reset-request"),
        ))
        new_run = reset.run_id
        check(new_run and new_run != old_run, f"reset answered run {new_run!r}")

        old = client.get_workflow_handle(workflow_id, run_id=old_run)
        check_eq((await old.describe()).status, WorkflowExecutionStatus.TERMINATED, "the old run's status")
        old_events = (await old.fetch_history()).events
        check_eq(old_events[-1].workflow_execution_terminated_event_attributes.reason, "try again", "termination reason")

        fresh = client.get_workflow_handle(workflow_id, run_id=new_run)
        fresh_history = await fresh.fetch_history()
        history, types = fresh_history.events, event_types(fresh_history)
        check_eq(types[:3], ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted"], "the kept prefix")
        failed = history[first_completed - 1].workflow_task_failed_event_attributes
        check_eq(failed.cause, WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW, "the reset point's failure cause")
        check_eq((failed.base_run_id, failed.new_run_id), (old_run, new_run), "the failure names both runs")
        check_eq(history[first_completed].workflow_execution_signaled_event_attributes.signal_name, "add", "the signal reapplied")

        await handle.signal(CollectTwo.add, "b")
        check_eq(await client.get_workflow_handle(workflow_id).result(), ["a", "b"], "the reset workflow's result")
        log(f"reset {old_run} to event {first_completed}: new run {new_run} completed")

        cli = os.path.join(os.path.dirname(sys.executable), "temporal")
        done = subprocess.run(
            [cli, "workflow", "reset", "--workflow-id", workflow_id, "--type", "LastWorkflowTask", "--reason", "by the CLI",
             "--address", args.address, "--namespace", args.namespace],
            capture_output=True, text=True, timeout=60,
        )
        check(done.returncode == 0, f"temporal workflow reset failed: {done.stdout} {done.stderr}")
        current = await client.get_workflow_handle(workflow_id).describe()
        check(current.run_id != new_run, "the CLI's reset started a new run")
        log(f"the CLI reset the workflow to its last workflow task: run {current.run_id}")

        await expect_rpc_error(
            "a reset point that is not a workflow task event",
            client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=old_run),
                reason="wrong", workflow_task_finish_event_id=1, request_id=new_id("reset-request"),
            )),
            RPCStatusCode.INVALID_ARGUMENT,
            "WorkflowTaskFinishEventId",
        )


if __name__ == "__main__":
    run_scenario(main, "reset to the first workflow task with a signal reapplied")
