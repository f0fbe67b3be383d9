"""Differential: DescribeWorkflowExecution on Temper and on Temporal's own
dev server, field by field.

Each shape below brings workflows to the same state on --address (Temper)
and on --reference (Temporal's dev server), with the same workflow ids and
task queue names: running with an activity waiting out a retry (its last
failure and heartbeat details kept) and one heartbeating, a timer and a
child pending; a workflow task scheduled and one started; completed, failed,
terminated; a cancel requested; continued as new (first and last run); a
child (parent and root); memo and search attributes; a cron run waiting for
its time; a retried workflow; a reset. Each run's whole
DescribeWorkflowExecutionResponse is compared as protobuf JSON, after
replacing only what differs by nature between two servers or two runs
(NORMALIZED below): times become "start" (written by the run's start),
"before start" or "after start", and run ids "run-N" in order of appearance, so presence and which run a field names are still compared.
Any other difference fails the scenario.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any, Awaitable, Callable

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
)
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from _common import check, new_id, run_scenario, wait_for
from differential import Countdown, Echo, FailsFirst, arguments_choosing, compare, reset_to_event_4

CUSTOMER = SearchAttributeKey.for_keyword("DescribeCustomer")
# Times are compared by how they stand to the run's start time; counters
# that depend on the encoding, and namespace ids, by presence only.
TIME_KEYS = re.compile(r".*Time$")
DURATION_KEYS = {"executionDuration"}
# A reset point's create time: which run made it is compared (its run id).
PRESENCE_ONLY = {"historySizeBytes", "parentNamespaceId", "createTime"}
# Lists Temporal fills from a Go map, in no particular order.
UNORDERED = {"pendingActivities": "activityId", "pendingChildren": "initiatedId"}
# Waits computed from two clock readings: compared to the second.
ROUNDED = {"currentRetryInterval"}
# Clock readings this close to what the start wrote count as written by it.
SAME_INSTANT_NANOS = 1_000_000
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Workers name their build by a binary checksum, or by a build id where the
# server announces build-id versioning, which Temper does not: one key here.
BUILD_KEYS = {"binaryChecksum": "build", "buildId": "build"}
# Differences the README documents as intended, by field: workers send
# Temper no worker version stamp, as it does not announce build-id
# versioning, so it has no most recent stamp and no BuildIds attribute.
INTENDED = {"mostRecentWorkerVersionStamp", "BuildIds"}
LONG = timedelta(hours=1)


@activity.defn
async def flaky(details: str) -> str:
    activity.heartbeat(details)
    raise ApplicationError("flaky fails", type="Flaky")


@activity.defn
async def hold(details: str) -> None:
    activity.heartbeat(details)
    await asyncio.Event().wait()


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Waiter:
    """Waits for `finish`; a cancel request is noted and outwaited."""

    def __init__(self) -> None:
        self.finished = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.finished)
        except asyncio.CancelledError:
            await workflow.wait_condition(lambda: self.finished)
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


@workflow.defn
class Busy:
    """An activity waiting out a retry, one heartbeating, a child, a timer."""

    @workflow.run
    async def run(self) -> None:
        workflow.start_activity(
            flaky,
            "beat",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=LONG, maximum_attempts=5),
        )
        workflow.start_activity(hold, "held", start_to_close_timeout=LONG, heartbeat_timeout=LONG)
        await workflow.start_child_workflow(Waiter.run, id=workflow.info().workflow_id + "-child")
        await workflow.sleep(LONG)


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(SlowChild.run, id=workflow.info().workflow_id + "-child")


@workflow.defn
class SlowChild:
    @workflow.run
    async def run(self) -> str:
        # Its parent's workflow task for the child's start is over by the
        # time the child completes, so the parent's state transition count
        # does not depend on which came first.
        await workflow.sleep(timedelta(seconds=1))
        return "done"


@workflow.defn
class Tagged:
    @workflow.run
    async def run(self) -> None:
        workflow.upsert_memo({"upserted": "by the workflow"})
        await workflow.sleep(LONG)


WORKFLOWS = [Waiter, Busy, Parent, SlowChild, Echo, FailsFirst, Countdown, Tagged]
ACTIVITIES = [flaky, hold, greet]

# A shape starts workflows, waits until they are in the state it describes
# and names the runs to describe.
Described = dict[str, tuple[str, str]]
Shape = Callable[[Client, str, str], Awaitable[Described]]


async def describe(client: Client, workflow_id: str, run_id: str = "") -> DescribeWorkflowExecutionResponse:
    return await client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
    ))


async def described_when(client: Client, workflow_id: str, what: str, holds: Callable[[DescribeWorkflowExecutionResponse], bool]) -> None:
    async def reached() -> bool:
        try:
            return holds(await describe(client, workflow_id))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise

    await wait_for(reached, f"{workflow_id}: {what}")


def run_of(handle: WorkflowHandle) -> tuple[str, str]:
    return handle.id, handle.result_run_id or handle.run_id or ""


async def busy(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Busy.run, id=workflow_id, task_queue=task_queue)

    def settled(response: DescribeWorkflowExecutionResponse) -> bool:
        by_id = {a.activity_id: a for a in response.pending_activities}
        return (
            len(by_id) == 2
            and by_id["1"].attempt == 2
            and by_id["2"].HasField("heartbeat_details")
            and len(response.pending_children) == 1
            and response.pending_children[0].run_id != ""
            and not response.HasField("pending_workflow_task")
        )

    await described_when(client, workflow_id, "an activity in retry, one heartbeating, a child started", settled)
    child = workflow_id + "-child"
    await described_when(client, child, "its first workflow task completed", lambda r: r.workflow_execution_info.history_length >= 4)
    return {"busy parent": run_of(handle), "its child, sticky": (child, "")}


async def workflow_tasks(client: Client, workflow_id: str, task_queue: str) -> Described:
    # Queues no worker polls: one task stays scheduled, the other is started
    # by a poll that never answers.
    scheduled = await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue + "-idle")
    started = await client.start_workflow(Waiter.run, id=workflow_id + "-started", task_queue=task_queue + "-polled")
    poll = await client.workflow_service.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue + "-polled"), identity="describe-poller"
    ))
    check(poll.task_token, "the poll got the workflow task")
    return {"workflow task scheduled": run_of(scheduled), "workflow task started": run_of(started)}


async def closed(client: Client, workflow_id: str, task_queue: str) -> Described:
    completed = await client.start_workflow(Echo.run, "hi", id=workflow_id, task_queue=task_queue)
    await completed.result()
    failed = await client.start_workflow(Echo.run, "fail", id=workflow_id + "-failed", task_queue=task_queue)
    try:
        await failed.result()
    except WorkflowFailureError:
        pass
    terminated = await client.start_workflow(Waiter.run, id=workflow_id + "-terminated", task_queue=task_queue)
    await described_when(client, terminated.id, "its first workflow task completed", lambda r: r.workflow_execution_info.history_length >= 4)
    await terminated.terminate("enough")
    return {"completed": run_of(completed), "failed": run_of(failed), "terminated": run_of(terminated)}


async def cancel_requested(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue)
    await described_when(client, workflow_id, "its first workflow task completed", lambda r: r.workflow_execution_info.history_length >= 4)
    await handle.cancel()
    await described_when(client, workflow_id, "the cancel request handled", lambda r: r.workflow_execution_info.history_length >= 8)
    return {"cancel requested": run_of(handle)}


async def continued_as_new(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Countdown.run, 2, id=workflow_id, task_queue=task_queue, memo={"kept": "yes"})
    await handle.result()
    last = await describe(client, workflow_id)
    first_run = last.workflow_execution_info.first_run_id
    return {"first run (continued as new)": (workflow_id, first_run), "last run": (workflow_id, "")}


async def child(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Parent.run, id=workflow_id, task_queue=task_queue)
    await handle.result()
    return {"parent": run_of(handle), "closed child": (workflow_id + "-child", "")}


async def memo_and_search_attributes(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(
        Tagged.run,
        id=workflow_id,
        task_queue=task_queue,
        memo={"given": {"at": "start"}},
        search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-42")]),
        static_summary="a tagged workflow",
        static_details="with memo and search attributes",
    )
    await described_when(client, workflow_id, "its first workflow task completed", lambda r: r.workflow_execution_info.history_length >= 5)
    return {"memo and search attributes": run_of(handle)}


async def cron(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Echo.run, "tick", id=workflow_id, task_queue=task_queue, cron_schedule="0 0 1 1 *")
    return {"cron run waiting for its time": run_of(handle)}


async def retried(client: Client, workflow_id: str, task_queue: str) -> Described:
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
    handle = await client.start_workflow(FailsFirst.run, id=workflow_id, task_queue=task_queue, retry_policy=policy)
    await handle.result()
    last = await describe(client, workflow_id)
    return {"first attempt": (workflow_id, last.workflow_execution_info.first_run_id), "second attempt": (workflow_id, "")}


async def reset(client: Client, workflow_id: str, task_queue: str) -> Described:
    handle = await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue)
    await described_when(client, workflow_id, "its first workflow task completed", lambda r: r.workflow_execution_info.history_length >= 4)
    new_run_id = await reset_to_event_4(client, handle)
    await described_when(client, workflow_id, "the new run's workflow task completed", lambda r: r.workflow_execution_info.history_length >= 7)
    return {"reset base run": run_of(handle), "run after reset": (workflow_id, new_run_id)}


SHAPES: dict[str, Shape] = {
    "busy": busy,
    "workflow_tasks": workflow_tasks,
    "closed": closed,
    "cancel_requested": cancel_requested,
    "continued_as_new": continued_as_new,
    "child": child,
    "memo_and_search_attributes": memo_and_search_attributes,
    "cron": cron,
    "retried": retried,
    "reset": reset,
}


class Normalizer:
    """Replaces what differs by nature, keeping presence: run ids become
    run-N in the order they first appear, so which run a field names is
    still compared; times become "start", "before start" or "after start"
    of the described run, "start" meaning written by the run's start."""

    def __init__(self) -> None:
        self.runs: dict[str, str] = {}
        self.start = 0
        self.start_written = 0

    def describe_response(self, response: dict[str, Any], start_written: Timestamp) -> dict[str, Any]:
        info = response["workflowExecutionInfo"]
        self.start = nanos(info["startTime"])
        self.start_written = max(self.start, start_written.ToNanoseconds())
        # The run's own id first, so that it is run-1... in both.
        self(info["execution"]["runId"])
        return self(response)

    def __call__(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            if key == "requestIdInfos":
                # Keyed by request ids the SDK makes up: compared as a list.
                return sorted((self(info) for info in value.values()), key=lambda info: json.dumps(info, sort_keys=True))
            kept = {BUILD_KEYS.get(k, k): self(v, k) for k, v in sorted(value.items()) if k not in INTENDED}
            # Left empty by an intended difference: as good as absent.
            return {k: v for k, v in kept.items() if v != {} or k != "indexedFields"}
        if isinstance(value, list):
            if key in UNORDERED:
                value = sorted(value, key=lambda item: item[UNORDERED[key]])
            return [self(item, key) for item in value]
        if key in PRESENCE_ONLY or key in DURATION_KEYS:
            return "<set>"
        if TIME_KEYS.match(key):
            return self.relative_to_start(value)
        if key in ROUNDED:
            return f"{round(float(value.removesuffix('s')))}s"
        if isinstance(value, str) and UUID.match(value):
            return self.runs.setdefault(value, f"run-{len(self.runs) + 1}")
        return value

    def relative_to_start(self, time: str) -> str:
        # Temporal reads its clock again for each record of one transaction
        # (microseconds apart, milliseconds on a busy machine), Temper once
        # per command: what the start wrote is "start" on both.
        stamp = nanos(time)
        if self.start - SAME_INSTANT_NANOS < stamp < self.start_written + SAME_INSTANT_NANOS:
            return "start"
        return "before start" if stamp < self.start else "after start"


def nanos(time: str) -> int:
    stamp = Timestamp()
    stamp.FromJsonString(time)
    return stamp.ToNanoseconds()


async def written_by_start(client: Client, workflow_id: str, run_id: str) -> Timestamp:
    """The time of the last event the run's start wrote: its first workflow
    task's scheduling when that came at once (no backoff), else the started
    event."""
    history = await client.workflow_service.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
        maximum_page_size=2,
    ))
    events = history.history.events
    backoff = events[0].workflow_execution_started_event_attributes.first_workflow_task_backoff.ToNanoseconds()
    if backoff == 0 and len(events) > 1 and events[1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        return events[1].event_time
    return events[0].event_time


async def described(client: Client, runs: Described) -> dict[str, Any]:
    normalize = Normalizer()
    found = {}
    for label, (workflow_id, run_id) in runs.items():
        response = MessageToDict(await describe(client, workflow_id, run_id))
        start_written = await written_by_start(client, workflow_id, response["workflowExecutionInfo"]["execution"]["runId"])
        found[label] = normalize.describe_response(response, start_written)
    return found


async def terminate_running(client: Client, runs: Described) -> None:
    for workflow_id, run_id in runs.values():
        handle = client.get_workflow_handle(workflow_id, run_id=run_id or None)
        if (await handle.describe()).status.name == "RUNNING":
            try:
                await handle.terminate("the comparison is done")
            except RPCError as err:
                # A child its parent's close policy terminated meanwhile.
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise


async def describe_shape(client: Client, shape: Shape, workflow_id: str, task_queue: str) -> dict[str, Any]:
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        runs = await shape(client, workflow_id, task_queue)
        found = await described(client, runs)
        await terminate_running(client, runs)
    return found


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            found += differences(ours.get(key, "<absent>"), theirs.get(key, "<absent>"), f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for index, (a, b) in enumerate(zip(ours, theirs)) for d in differences(a, b, f"{path}[{index}]")]
    if ours != theirs:
        return [f"  {path}:\n    Temper:   {json.dumps(ours)}\n    Temporal: {json.dumps(theirs)}"]
    return []


async def register_search_attribute(client: Client) -> None:
    try:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=client.namespace, search_attributes={CUSTOMER.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
        ))
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise


async def main(args) -> None:
    for address in (args.address, args.reference):
        await register_search_attribute(await Client.connect(address, namespace=args.namespace))
    await compare(args, SHAPES, args.shape, describe_shape, differences, "described runs")


if __name__ == "__main__":
    run_scenario(main, "DescribeWorkflowExecution gives Temporal's answer on Temper, field by field", timeout=180.0, add_arguments=arguments_choosing("shape"))
