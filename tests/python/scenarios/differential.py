"""Differential: the same SDK programs on Temper and on Temporal's own dev
server, their histories compared event by event.

Each program below runs once against --address (Temper) and once against
--reference (Temporal's dev server), with the same workflow ids and task
queue names. Every event is compared whole (type, id and attributes), after
dropping only what differs by nature between two servers or two runs:
times, run ids, request ids, identities and per-run counters (VOLATILE
below). Anything else that differs is reported, program by program, and
fails the scenario: a difference is a Temper bug unless the README
documents it as intended (and then it is listed in INTENDED with why).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any, Awaitable, Callable

from google.protobuf.json_format import MessageToDict
from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from _common import check, log, new_id, run_scenario
from updates import Counter

# Attributes that differ between any two servers or runs by nature.
VOLATILE = {
    "eventTime",
    "taskId",
    "identity",
    "requestId",
    "originalExecutionRunId",
    "firstExecutionRunId",
    "newExecutionRunId",
    "continuedExecutionRunId",
    "runId",
    "workflowExecutionExpirationTime",
    "expirationTime",
    "scheduledTime",
    "startedTime",
    "lastHeartbeatTime",
    "historySizeBytes",
    # Workers name their build by a binary checksum, or by a build id where
    # the server announces build-id versioning, which Temper does not support.
    "binaryChecksum",
    "buildId",
    "sdkMetadata",
    "meteringMetadata",
    "workerVersion",
    "baseRunId",
    "newRunId",
    "stackTrace",
    "lastAttemptCompleteTime",
    "createTime",
    "expireTime",
    # Namespace ids are chosen by each server.
    "namespaceId",
    "parentWorkflowNamespaceId",
}
# Differences documented in the README as intended, by attribute: none yet.
INTENDED: dict[str, str] = {}


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def refuse(name: str) -> str:
    raise ApplicationError(f"no greeting for {name}", type="Refused", non_retryable=True)


@workflow.defn
class GreetOnce:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class SleepThenGreet:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(timedelta(seconds=1))
        return await workflow.execute_activity(
            greet,
            name,
            schedule_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3),
        )


@workflow.defn
class AwaitSignal:
    def __init__(self) -> None:
        self.names: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.names) == 2)
        return self.names

    @workflow.signal
    def add(self, name: str) -> None:
        self.names.append(name)

    @workflow.query
    def count(self) -> int:
        return len(self.names)


@workflow.defn
class GreetRefused:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(refuse, name, start_to_close_timeout=timedelta(seconds=10))


# Task tokens of activities waiting to be completed from outside, by workflow id.
WAITING: dict[str, bytes] = {}


@activity.defn
async def wait_outside(name: str) -> str:
    WAITING[activity.info().workflow_id] = activity.info().task_token
    activity.raise_complete_async()


@workflow.defn
class CompletedOutside:
    @workflow.run
    async def run(self) -> list[str]:
        results = []
        for name in ("by-token", "by-id"):
            results.append(await workflow.execute_activity(wait_outside, name, activity_id=name, start_to_close_timeout=timedelta(minutes=1)))
        return results


@workflow.defn
class Countdown:
    """Continues as new until its counter reaches 1; each run outlives the
    minimal interval between runs, so no run waits a timing-dependent backoff."""

    @workflow.run
    async def run(self, remaining: int) -> int:
        await workflow.sleep(timedelta(seconds=1.2))
        if remaining > 1:
            workflow.continue_as_new(remaining - 1)
        return remaining


@workflow.defn
class FailsFirst:
    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt < 2:
            raise ApplicationError("the first attempt fails", type="FirstAttempt")
        return workflow.info().attempt


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, text: str) -> str:
        if text == "fail":
            raise ApplicationError("asked to fail", type="EchoFailure", non_retryable=True)
        return text.upper()


@workflow.defn
class ParentOfTwo:
    @workflow.run
    async def run(self) -> list[str]:
        results = [await workflow.execute_child_workflow(Echo.run, "hi", id=workflow.info().workflow_id + "-echo")]
        try:
            await workflow.execute_child_workflow(Echo.run, "fail", id=workflow.info().workflow_id + "-fail")
        except Exception as err:
            results.append(type(err).__name__)
        return results


@workflow.defn
class SignalsAnother:
    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).signal(AwaitSignal.add, "from a workflow")
        await workflow.get_external_workflow_handle(target).signal(AwaitSignal.add, "twice")
        return "sent"


WORKFLOWS = [GreetOnce, SleepThenGreet, AwaitSignal, GreetRefused, CompletedOutside, Countdown, FailsFirst, Echo, ParentOfTwo, SignalsAnother, Counter]
ACTIVITIES = [greet, refuse, wait_outside]

Program = Callable[[Client, str, str], Awaitable[WorkflowHandle]]


async def greet_once(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(GreetOnce.run, "World", id=workflow_id, task_queue=task_queue)
    await handle.result()
    return handle


async def sleep_then_greet(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(SleepThenGreet.run, "World", id=workflow_id, task_queue=task_queue)
    await handle.result()
    return handle


async def signals_and_a_query(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    # Each signal once the previous workflow task completed, so that the
    # order of events does not depend on how fast the worker is.
    handle = await client.start_workflow(AwaitSignal.run, id=workflow_id, task_queue=task_queue)
    await history_reaches(handle, 4)
    await handle.signal(AwaitSignal.add, "a")
    await history_reaches(handle, 8)
    check(await handle.query(AwaitSignal.count) == 1, "the query counts the first signal")
    await handle.signal(AwaitSignal.add, "b")
    await handle.result()
    return handle


async def history_reaches(handle: WorkflowHandle, length: int) -> None:
    for _ in range(400):
        if (await handle.describe()).history_length >= length:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: history never reached {length} events")


async def activity_fails_the_workflow(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(GreetRefused.run, "World", id=workflow_id, task_queue=task_queue)
    try:
        await handle.result()
    except WorkflowFailureError:
        return handle
    raise AssertionError("the workflow should have failed")


async def completed_from_outside(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    # The other server's run used the same workflow id.
    WAITING.pop(workflow_id, None)
    handle = await client.start_workflow(CompletedOutside.run, id=workflow_id, task_queue=task_queue)
    token = await waiting_activity(workflow_id)
    await client.get_async_activity_handle(task_token=token).complete("done by token")
    await waiting_activity(workflow_id, other_than=token)
    await client.get_async_activity_handle(workflow_id=workflow_id, run_id=None, activity_id="by-id").complete("done by id")
    await handle.result()
    return handle


async def waiting_activity(workflow_id: str, other_than: bytes | None = None) -> bytes:
    for _ in range(400):
        token = WAITING.get(workflow_id)
        if token is not None and token != other_than:
            return token
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id}: no activity waits to be completed")


async def continued_as_new(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(Countdown.run, 3, id=workflow_id, task_queue=task_queue, memo={"kept": "yes"})
    await handle.result()
    return handle


async def retried_once(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
    handle = await client.start_workflow(FailsFirst.run, id=workflow_id, task_queue=task_queue, retry_policy=policy)
    await handle.result()
    return handle


async def delayed_start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(
        GreetOnce.run, "later", id=workflow_id, task_queue=task_queue, start_delay=timedelta(seconds=1)
    )
    await handle.result()
    return handle


async def two_children(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(ParentOfTwo.run, id=workflow_id, task_queue=task_queue)
    await handle.result()
    return handle


async def signalled_by_a_workflow(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(AwaitSignal.run, id=workflow_id, task_queue=task_queue)
    await history_reaches(handle, 4)
    sender = await client.start_workflow(SignalsAnother.run, workflow_id, id=workflow_id + "-sender", task_queue=task_queue)
    await sender.result()
    await handle.result()
    return sender


async def updated(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
    await history_reaches(handle, 4)
    await handle.execute_update(Counter.add, 5, id="first")
    try:
        await handle.execute_update(Counter.add, -1, id="refused")
    except WorkflowUpdateFailedError:
        pass
    await handle.signal(Counter.finish)
    await handle.result()
    return handle


async def updated_with_start(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    start = WithStartWorkflowOperation(
        Counter.run, id=workflow_id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
    )
    await client.execute_update_with_start_workflow(Counter.add, 7, id="with-start", start_workflow_operation=start)
    handle = await start.workflow_handle()
    await handle.signal(Counter.finish)
    await handle.result()
    return handle


async def started_eagerly(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(
        GreetOnce.run, "eager", id=workflow_id, task_queue=task_queue, request_eager_start=True
    )
    await handle.result()
    return handle


async def reset_to_first_task(client: Client, workflow_id: str, task_queue: str) -> WorkflowHandle:
    handle = await client.start_workflow(AwaitSignal.run, id=workflow_id, task_queue=task_queue)
    await history_reaches(handle, 4)
    await handle.signal(AwaitSignal.add, "a")
    await history_reaches(handle, 8)
    new_run = client.get_workflow_handle(workflow_id, run_id=await reset_to_event_4(client, handle))
    # The reapplied signal's workflow task completes before the next signal.
    await history_reaches(new_run, 8)
    await handle.signal(AwaitSignal.add, "b")
    await new_run.result()
    return new_run


async def reset_to_event_4(client: Client, handle: WorkflowHandle) -> str:
    """Resets the run to its first workflow task; returns the new run's id."""
    reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
        reason="again",
        workflow_task_finish_event_id=4,
        request_id=new_id("reset"),
    ))
    return reset.run_id


PROGRAMS: dict[str, Program] = {
    "reset_to_first_task": reset_to_first_task,
    "started_eagerly": started_eagerly,
    "updated": updated,
    "updated_with_start": updated_with_start,
    "two_children": two_children,
    "signalled_by_a_workflow": signalled_by_a_workflow,
    "continued_as_new": continued_as_new,
    "retried_once": retried_once,
    "delayed_start": delayed_start,
    "greet_once": greet_once,
    "sleep_then_greet": sleep_then_greet,
    "signals_and_a_query": signals_and_a_query,
    "activity_fails_the_workflow": activity_fails_the_workflow,
    "completed_from_outside": completed_from_outside,
}


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {key: without_volatile(item) for key, item in value.items() if key not in VOLATILE and key not in INTENDED}
        if kept.get("kind") == "TASK_QUEUE_KIND_STICKY":
            # A sticky queue is named after its worker process, which differs.
            kept.pop("name", None)
        return kept
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


async def history_of(client: Client, program: Program, workflow_id: str, task_queue: str) -> list[str]:
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        handle = await program(client, workflow_id, task_queue)
    return await chain_history(client, handle.id, handle.result_run_id)


async def chain_history(client: Client, workflow_id: str, run_id: str) -> list[str]:
    """The events of every run of the chain that starts with `run_id`, then
    those of the children its runs started."""
    events, children = [], []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events += [json.dumps(without_volatile(MessageToDict(event)), sort_keys=True) for event in history.events]
        children += [
            e.child_workflow_execution_started_event_attributes.workflow_execution
            for e in history.events
            if e.HasField("child_workflow_execution_started_event_attributes")
        ]
        closing = MessageToDict(history.events[-1])
        run_id = next((a.get("newExecutionRunId") for k, a in closing.items() if k.endswith("EventAttributes")), None)
    for child in children:
        events += await chain_history(client, child.workflow_id, child.run_id)
    return events


def differences(temper: list[str], temporal: list[str]) -> list[str]:
    found = []
    for index in range(max(len(temper), len(temporal))):
        ours = temper[index] if index < len(temper) else "<no event>"
        theirs = temporal[index] if index < len(temporal) else "<no event>"
        if ours != theirs:
            found.append(f"  event {index + 1}:\n    Temper:   {ours}\n    Temporal: {theirs}")
    return found


async def compare(
    args,
    cases: dict[str, Any],
    selected: list[str] | None,
    observe: Callable[[Client, Any, str, str], Awaitable[Any]],
    differences: Callable[[Any, Any], list[str]],
    what: str,
) -> None:
    """Observes each case on Temper (--address) and on Temporal's dev server
    (--reference) with the same workflow id and task queue, and fails with
    every difference found."""
    temper = await Client.connect(args.address, namespace=args.namespace)
    temporal = await Client.connect(args.reference, namespace=args.namespace)
    report = []
    for name, case in cases.items():
        if selected and name not in selected:
            continue
        workflow_id, task_queue = new_id(f"diff-{name}"), new_id(f"diff-{name}-tq")
        ours = await observe(temper, case, workflow_id, task_queue)
        theirs = await observe(temporal, case, workflow_id, task_queue)
        found = differences(ours, theirs)
        log(f"{name}: {len(ours)} {what} on Temper, {len(theirs)} on Temporal, {len(found)} differing")
        if found:
            report.append(f"{name}:\n" + "\n".join(found))
    check(not report, f"{what} differ from Temporal's:\n" + "\n".join(report))


async def main(args) -> None:
    await compare(args, PROGRAMS, args.program, history_of, differences, "events")


def arguments_choosing(case: str) -> Callable[[Any], None]:
    """The arguments of a differential scenario whose cases are `case`s."""

    def add_arguments(parser) -> None:
        parser.add_argument("--reference", required=True, help="HOST:PORT of Temporal's dev server")
        parser.add_argument(f"--{case}", action="append", help=f"run only this {case} (repeatable)")

    return add_arguments


if __name__ == "__main__":
    run_scenario(main, "SDK programs give Temporal's histories on Temper, event by event", timeout=120.0, add_arguments=arguments_choosing("program"))
