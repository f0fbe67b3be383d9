"""Continue-as-new: a 10-run chain.

A countdown workflow continues as new until its counter reaches 1. Checks:
handle.result() follows the chain to the last run's result; every run's
history ends in WorkflowExecutionContinuedAsNew pointing at the next run,
whose started event points back (continued_execution_run_id), shares the
first run id, and carries the memo and the new input; the workflow id's
current run is the last one; the runs start at least Temporal's minimal
interval (1 s) apart.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, log, new_id, run_scenario, for_worker

RUNS = 10


@workflow.defn
class CountdownWorkflow:
    @workflow.run
    async def run(self, remaining: int) -> dict:
        info = workflow.info()
        if remaining > 1:
            workflow.continue_as_new(remaining - 1)
        return {"run_id": info.run_id, "continued_run_id": info.continued_run_id, "remaining": remaining}


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("can-tq")
    workflow_id = new_id("can-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CountdownWorkflow]):
        handle = await client.start_workflow(
            CountdownWorkflow.run, RUNS, id=workflow_id, task_queue=task_queue, memo={"owner": "countdown"},
            run_timeout=timedelta(minutes=5),
        )
        first_run_id = handle.result_run_id
        result = await handle.result()
        log(f"the chain ended with {result!r}")
        check_eq(result["remaining"], 1, "the last run's counter")

        run_id, runs, first_tasks = first_run_id, [], []
        while True:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            runs.append(run_id)
            first_task = next(e for e in history.events if e.HasField("workflow_task_scheduled_event_attributes"))
            first_tasks.append(first_task.event_time.ToDatetime())
            check_eq(started.first_execution_run_id, first_run_id, f"run {len(runs)}: first_execution_run_id")
            check_eq(started.original_execution_run_id, run_id, f"run {len(runs)}: original_execution_run_id")
            check_eq(started.workflow_run_timeout.ToTimedelta(), timedelta(minutes=5), f"run {len(runs)}: run timeout carried")
            check(started.memo.fields["owner"].data == b'"countdown"', f"run {len(runs)}: memo carried: {started.memo}")
            if len(runs) > 1:
                check_eq(started.continued_execution_run_id, runs[-2], f"run {len(runs)}: continued_execution_run_id")
            last = history.events[-1]
            if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
                check_eq(event_types(history)[-1], "WorkflowExecutionCompleted", f"run {len(runs)}: last event")
                break
            attributes = last.workflow_execution_continued_as_new_event_attributes
            check_eq(attributes.workflow_type.name, "CountdownWorkflow", "ContinuedAsNew.workflow_type")
            check_eq(attributes.task_queue.name, task_queue, "ContinuedAsNew.task_queue")
            run_id = attributes.new_execution_run_id
            check(run_id, f"run {len(runs)}: ContinuedAsNew names no new run")
        check_eq(len(runs), RUNS, "runs in the chain")
        check_eq(result["run_id"], runs[-1], "the result comes from the last run")
        check_eq(result["continued_run_id"], runs[-2], "workflow.info().continued_run_id of the last run")
        # A run's first workflow task comes at least 1 s after its predecessor's.
        gaps = [(b - a).total_seconds() for a, b in zip(first_tasks, first_tasks[1:])]
        check(min(gaps) >= 0.99, f"runs began {min(gaps):.3f}s apart, under the 1 s minimal interval")

        first = await client.get_workflow_handle(workflow_id, run_id=first_run_id).describe()
        check_eq(first.status, WorkflowExecutionStatus.CONTINUED_AS_NEW, "the first run's status")
        current = await client.get_workflow_handle(workflow_id).describe()
        check_eq(current.run_id, runs[-1], "the workflow id's current run")
        check_eq(current.status, WorkflowExecutionStatus.COMPLETED, "the last run's status")
        log(f"{RUNS} runs, {min(gaps):.2f}-{max(gaps):.2f}s apart")


if __name__ == "__main__":
    run_scenario(main, "a 10-run continue-as-new chain, followed to its result")
