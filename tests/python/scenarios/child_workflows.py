"""Child workflows, and signals and cancel requests between workflows.

A parent starts three children under the parent close policies TERMINATE,
REQUEST_CANCEL and ABANDON, waits until they run, and completes. Checks: each
child's started event names its parent and root; the parent's history has
the initiated and started events of each child; when the parent closes, the
TERMINATE child is terminated, the REQUEST_CANCEL child is cancelled (it
cleans up and reports cancellation) and the ABANDON child keeps running
until signalled. A second parent runs a child to its result and a failing
child to its failure; a child whose workflow id is taken fails to start with
WORKFLOW_ALREADY_EXISTS; a child cancelled by its parent ends CANCELED. A
workflow signals another and asks a third to cancel, through the SDK's
external workflow handles.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.worker import Worker
from temporalio.workflow import ParentClosePolicy

from _common import check, check_eq, connect, event_types, log, new_id, run_scenario, wait_for, for_worker


@workflow.defn
class WaitingChild:
    """Runs until signalled to finish, or cancelled."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, name: str) -> str:
        try:
            await workflow.wait_condition(lambda: self.done)
            return f"{name} finished"
        except asyncio.CancelledError:
            return f"{name} cleaned up after cancellation"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class EchoChild:
    @workflow.run
    async def run(self, text: str) -> str:
        if text == "fail":
            raise ApplicationError("the child was asked to fail", type="ChildFailure", non_retryable=True)
        return text.upper()


@workflow.defn
class PolicyParent:
    @workflow.run
    async def run(self, prefix: str) -> list[str]:
        ids = []
        for policy in (ParentClosePolicy.TERMINATE, ParentClosePolicy.REQUEST_CANCEL, ParentClosePolicy.ABANDON):
            child_id = f"{prefix}-{policy.name.lower()}"
            await workflow.start_child_workflow(WaitingChild.run, child_id, id=child_id, parent_close_policy=policy)
            ids.append(child_id)
        return ids


@workflow.defn
class ResultsParent:
    @workflow.run
    async def run(self, prefix: str) -> dict:
        outcome = {"echo": await workflow.execute_child_workflow(EchoChild.run, "hello", id=f"{prefix}-echo")}
        try:
            await workflow.execute_child_workflow(EchoChild.run, "fail", id=f"{prefix}-fail")
        except ChildWorkflowError as err:
            outcome["failure"] = str(err.cause)
        try:
            await workflow.execute_child_workflow(EchoChild.run, "taken", id=f"{prefix}-taken")
        except WorkflowAlreadyStartedError:
            outcome["taken"] = "already started"
        handle = await workflow.start_child_workflow(WaitingChild.run, "cancelled", id=f"{prefix}-cancel")
        handle.cancel()
        outcome["cancelled"] = await handle
        return outcome


@workflow.defn
class Messenger:
    @workflow.run
    async def run(self, signal_id: str, cancel_id: str) -> str:
        await workflow.get_external_workflow_handle(signal_id).signal(WaitingChild.finish)
        await workflow.get_external_workflow_handle(cancel_id).cancel()
        try:
            await workflow.get_external_workflow_handle("nobody-" + signal_id).signal(WaitingChild.finish)
            return "signalled a workflow that does not exist"
        except ApplicationError as err:
            return f"missing: {err}"


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("children-tq")
    prefix = new_id("child")
    workflows = [WaitingChild, EchoChild, PolicyParent, ResultsParent, Messenger]
    async with Worker(for_worker(client), task_queue=task_queue, workflows=workflows):
        parent = await client.start_workflow(PolicyParent.run, prefix, id=f"{prefix}-policy-parent", task_queue=task_queue)
        ids = await parent.result()
        history = await parent.fetch_history()
        types = event_types(history)
        check_eq(types.count("StartChildWorkflowExecutionInitiated"), 3, f"initiated events in {types}")
        check_eq(types.count("ChildWorkflowExecutionStarted"), 3, f"started events in {types}")
        terminated, cancelled, abandoned = (client.get_workflow_handle(i) for i in ids)

        async def status_is(handle, status) -> bool:
            return (await handle.describe()).status == status

        await wait_for(lambda: status_is(terminated, WorkflowExecutionStatus.TERMINATED), "the TERMINATE child terminated")
        await wait_for(lambda: status_is(cancelled, WorkflowExecutionStatus.COMPLETED), "the REQUEST_CANCEL child done")
        check_eq(await cancelled.result(), f"{ids[1]} cleaned up after cancellation", "the cancelled child's result")
        check_eq((await abandoned.describe()).status, WorkflowExecutionStatus.RUNNING, "the ABANDON child runs on")
        child_history = await abandoned.fetch_history()
        started = child_history.events[0].workflow_execution_started_event_attributes
        check_eq(started.parent_workflow_execution.workflow_id, parent.id, "the child's parent")
        check_eq(started.root_workflow_execution.workflow_id, parent.id, "the child's root")
        description = await abandoned.describe()
        check_eq(description.parent_id, parent.id, "describe: parent id")
        await abandoned.signal(WaitingChild.finish)
        check_eq(await abandoned.result(), f"{ids[2]} finished", "the abandoned child finished when signalled")
        terminated_history = await terminated.fetch_history()
        reason = terminated_history.events[-1].workflow_execution_terminated_event_attributes.reason
        check_eq(reason, "by parent close policy", "termination reason")
        log("close policies: terminated, cancelled, abandoned as asked")

        blocker = await client.start_workflow(WaitingChild.run, "blocker", id=f"{prefix}-results-taken", task_queue=task_queue)
        results = await client.execute_workflow(ResultsParent.run, f"{prefix}-results", id=f"{prefix}-results-parent", task_queue=task_queue)
        log(f"results parent: {results}")
        check_eq(results["echo"], "HELLO", "a child's result")
        check("asked to fail" in results["failure"], f"a child's failure: {results['failure']}")
        check_eq(results["taken"], "already started", "a child whose id is taken")
        check_eq(results["cancelled"], "cancelled cleaned up after cancellation", "a child cancelled by its parent")
        history = await client.get_workflow_handle(f"{prefix}-results-parent").fetch_history()
        types = event_types(history)
        for expected in ("ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed", "StartChildWorkflowExecutionFailed",
                         "RequestCancelExternalWorkflowExecutionInitiated", "ExternalWorkflowExecutionCancelRequested"):
            check(expected in types, f"{expected} in the parent's history {types}")
        await blocker.signal(WaitingChild.finish)

        to_signal = await client.start_workflow(WaitingChild.run, "signalled", id=f"{prefix}-to-signal", task_queue=task_queue)
        to_cancel = await client.start_workflow(WaitingChild.run, "cancelled", id=f"{prefix}-to-cancel", task_queue=task_queue)
        said = await client.execute_workflow(Messenger.run, args=[to_signal.id, to_cancel.id], id=f"{prefix}-messenger", task_queue=task_queue)
        check_eq(await to_signal.result(), "signalled finished", "the signalled workflow")
        check_eq(await to_cancel.result(), "cancelled cleaned up after cancellation", "the cancelled workflow")
        check("missing" in said, f"signalling a missing workflow fails: {said}")
        types = event_types(await client.get_workflow_handle(f"{prefix}-messenger").fetch_history())
        for expected in ("ExternalWorkflowExecutionSignaled", "ExternalWorkflowExecutionCancelRequested", "SignalExternalWorkflowExecutionFailed"):
            check(expected in types, f"{expected} in the messenger's history {types}")
        log("external signal, cancel and a failed signal recorded")


if __name__ == "__main__":
    run_scenario(main, "child workflows, close policies, external signals and cancels")
