"""Workflow updates: accepted, rejected by a validator, waited on by stage,
deduplicated by id, sent with start, and refused on a closed workflow.

A counter workflow has an update `add` whose validator rejects negative
numbers, and an update `add_slowly` that sleeps before it returns. Checks:
an accepted update returns its result and writes accepted and completed
events; a rejected one raises WorkflowUpdateFailedError and leaves no trace
in history (not even a workflow task); start_update returns once the update
is accepted, and its result comes later; an update sent again with the same
id runs once; an update sent without an id (as the Web UI sends them) is
given one, and one without its meta is refused in Temporal's words;
update-with-start starts the workflow and delivers the update
to its first workflow task; the workflow waits for its handlers to finish
before completing; an update to a closed workflow is refused.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, log, new_id, run_scenario, for_worker


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done and workflow.all_handlers_finished())
        return self.total

    @workflow.update
    def add(self, amount: int) -> int:
        self.total += amount
        return self.total

    @add.validator
    def refuse_negative(self, amount: int) -> None:
        if amount < 0:
            raise ValueError(f"cannot add {amount}")

    @workflow.update
    async def add_slowly(self, amount: int) -> int:
        await workflow.sleep(timedelta(seconds=1))
        self.total += amount
        return self.total

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("update-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=new_id("update-wf"), task_queue=task_queue)
        check_eq(await handle.execute_update(Counter.add, 5), 5, "an accepted update's result")

        before = event_types(await handle.fetch_history())
        try:
            await handle.execute_update(Counter.add, -1)
            check(False, "a negative amount passed the validator")
        except WorkflowUpdateFailedError as err:
            log(f"rejected as expected: {err.cause}")
            check("cannot add -1" in str(err.cause), f"the validator's message: {err.cause}")
        after = event_types(await handle.fetch_history())
        check_eq(after, before, "history after a rejected update (a rejection leaves no trace)")

        slow = await handle.start_update(Counter.add_slowly, 3, wait_for_stage=WorkflowUpdateStage.ACCEPTED, id="slow-1")
        check_eq(await slow.result(), 8, "the slow update's result")
        again = await handle.execute_update(Counter.add_slowly, 3, id="slow-1")
        check_eq(again, 8, "the same update id again gets the first outcome")

        def raw_add(meta):
            return UpdateWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id),
                request=Request(meta=meta, input=Input(
                    name="add", args=Payloads(payloads=client.data_converter.payload_converter.to_payloads([1])))),
                wait_policy=WaitPolicy(
                    lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED),
            )
        answered = await client.workflow_service.update_workflow_execution(raw_add(Meta(update_id="")))
        check(answered.update_ref.update_id != "", "an update sent without an id is given one")
        check_eq(client.data_converter.payload_converter.from_payloads(answered.outcome.success.payloads), [9],
                 "the result of the update sent without an id")
        try:
            await client.workflow_service.update_workflow_execution(raw_add(None))
            check(False, "an update without its meta was accepted")
        except RPCError as err:
            check_eq((err.status.name, err.message), ("INVALID_ARGUMENT", "Update meta is not set on request."),
                     "the refusal of an update without its meta")

        await handle.signal(Counter.finish)
        check_eq(await handle.result(), 9, "the workflow's result")
        types = event_types(await handle.fetch_history())
        check_eq(types.count("WorkflowExecutionUpdateAccepted"), 3, f"accepted updates in {types}")
        check_eq(types.count("WorkflowExecutionUpdateCompleted"), 3, f"completed updates in {types}")

        try:
            await handle.execute_update(Counter.add, 1)
            check(False, "an update of a closed workflow was accepted")
        except (RPCError, WorkflowUpdateFailedError) as err:
            log(f"update of a closed workflow refused: {type(err).__name__}: {err}")

        start = WithStartWorkflowOperation(
            Counter.run, id=new_id("update-with-start-wf"), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        check_eq(await client.execute_update_with_start_workflow(Counter.add, 7, start_workflow_operation=start), 7,
                 "update-with-start's update result")
        started = await start.workflow_handle()
        history = await started.fetch_history()
        types = event_types(history)
        check_eq(types[:4], ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted"],
                 "the update came with the first workflow task")
        check_eq(types[4], "WorkflowExecutionUpdateAccepted", "then it was accepted")
        await started.signal(Counter.finish)
        check_eq(await started.result(), 7, "the workflow started with an update")


if __name__ == "__main__":
    run_scenario(main, "workflow updates: validators, stages, ids, with start, closed workflows")
