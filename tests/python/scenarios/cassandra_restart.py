"""Cassandra is killed and restarted while workflows run; Temper stays up.

Driven by the Rust test (tests/tests/cassandra_restart.rs), which owns
Cassandra and the server. A worker runs two kinds of workflows (activity ->
1 s timer -> activity, and activity -> wait for a signal -> activity), and a
driver starts them continuously, so commits of every kind are in flight:
starts, workflow and activity task starts and completions, timers, signals.

Handshake (stdout lines, stdin answers):
  STOP_POINT ...     once some workflows completed and others run; the test
                     kills Cassandra's JVM with SIGKILL and writes STOPPED.
  The script then checks that requests that need the store fail promptly
  with UNAVAILABLE saying the store is unreachable (a start, and a describe
  of a workflow the server holds nothing of, with the SDK's retries off:
  "not found" would be a wrong answer; what the engine committed and still
  caches may be described meanwhile), while the driver and the worker keep
  going as users' programs would.
  RESTART_POINT ...  the test starts Cassandra again on the same data, without
                     touching Temper, and writes RESTARTED.
Then more workflows are started, and every workflow must complete exactly
once with the right result: one run per id, histories with exactly one
start, one completion, the expected events each once (a signal sent with one
request id however often it was retried counts once), contiguous event ids.
Activities are counted per (workflow, activity, attempt): no attempt may run
twice, and the attempt the history records as completed is the last one the
worker ran. An activity may only have been retried after a start-to-close
timeout (the history's last failure says so), and only if its earlier
attempts ran before Temper recovered or never reached the worker: a
completion refused while the store was down, or a task whose start was
recorded after its poll had been answered UNAVAILABLE, is what the timeout
is there for.

The driver's own RPCs carry fixed request ids and are retried on UNAVAILABLE
only; any other error fails the scenario.
"""

import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import TimeoutType, WorkflowIdReusePolicy
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import (
    for_worker,
    UnavailableRetrier,
    check,
    check_eq,
    connect,
    event_types,
    expect_rpc_error,
    log,
    new_id,
    run_scenario,
)

# Workflows completed before Cassandra is killed, and running at that moment.
COMPLETED_BEFORE_STOP = 20
RUNNING_AT_STOP = 8
# Workflows the driver keeps running at once, and the pause between starts.
IN_FLIGHT = 16
START_PAUSE = 0.05
# How long Cassandra stays down after the probes, with the driver going on.
DOWN_FOR = 8.0
# Workflows started once Temper answered again.
STARTED_AFTER_RECOVERY = 20
# How long the script keeps retrying an RPC the server answers UNAVAILABLE:
# past Cassandra's restart, the driver's reconnection and every timeout.
RPC_RETRY_WINDOW = 180.0
PROBE_TIMEOUT = timedelta(seconds=15)
TIMER = timedelta(seconds=1)
ACTIVITY_TIMEOUT = timedelta(seconds=10)
IDENTITY = "cassandra-restart-driver"

# Activity executions per (workflow id, activity, attempt), and when the
# latest of each started (monotonic seconds).
EXECUTIONS: Counter = Counter()
STARTED_AT: dict = {}
# Per (workflow id, activity): the completed attempt's ActivityTaskStarted
# event, as the history records it.
COMPLETED_ATTEMPTS: dict = {}


def record_execution(name: str) -> None:
    info = activity.info()
    key = (info.workflow_id, name, info.attempt)
    EXECUTIONS[key] += 1
    STARTED_AT[key] = time.monotonic()


@activity.defn
async def reserve(order: int) -> str:
    record_execution("reserve")
    return f"reserved-{order}"


@activity.defn
async def ship(reservation: str) -> str:
    record_execution("ship")
    return f"shipped-{reservation}"


@workflow.defn
class TimerOrder:
    @workflow.run
    async def run(self, order: int) -> str:
        reservation = await workflow.execute_activity(reserve, order, start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.sleep(TIMER)
        return await workflow.execute_activity(ship, reservation, start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn
class SignalOrder:
    def __init__(self) -> None:
        self.approved = False

    @workflow.signal
    def approve(self) -> None:
        self.approved = True

    @workflow.run
    async def run(self, order: int) -> str:
        reservation = await workflow.execute_activity(reserve, order, start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.approved)
        return await workflow.execute_activity(ship, reservation, start_to_close_timeout=ACTIVITY_TIMEOUT)


def expected_result(order: int) -> str:
    return f"shipped-reserved-{order}"


retrying = UnavailableRetrier(RPC_RETRY_WINDOW)


@dataclass
class Started:
    order: int
    kind: str
    handle: WorkflowHandle
    result: "asyncio.Task"


class Driver:
    """Starts workflows, signals the signal kind, and collects every result."""

    def __init__(self, client: Client, task_queue: str, prefix: str) -> None:
        self.client = client
        self.task_queue = task_queue
        self.prefix = prefix
        self.started: list[Started] = []
        self.completed = 0
        self.slots = asyncio.Semaphore(IN_FLIGHT)

    def start_request(self, order: int, kind: str, input_payloads) -> StartWorkflowExecutionRequest:
        workflow_id = f"{self.prefix}-{order}"
        return StartWorkflowExecutionRequest(
            namespace=self.client.namespace,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name=kind),
            task_queue=TaskQueue(name=self.task_queue),
            input=Payloads(payloads=input_payloads),
            # The same id on every retry: the server answers a retry with the
            # first outcome, so a start that landed unheard is not repeated.
            request_id=f"start-{workflow_id}",
            identity=IDENTITY,
            workflow_id_reuse_policy=WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
        )

    async def request_for(self, order: int) -> StartWorkflowExecutionRequest:
        kind = "TimerOrder" if order % 2 == 0 else "SignalOrder"
        return self.start_request(order, kind, await self.client.data_converter.encode([order]))

    async def start(self, order: int, request: StartWorkflowExecutionRequest) -> None:
        await self.slots.acquire()
        response = await retrying(
            f"start {request.workflow_id}",
            lambda: self.client.workflow_service.start_workflow_execution(request, retry=True),
        )
        handle = self.client.get_workflow_handle(
            request.workflow_id, run_id=response.run_id, first_execution_run_id=response.run_id
        )
        kind = request.workflow_type.name
        result = asyncio.create_task(self.follow(handle, kind))
        self.started.append(Started(order, kind, handle, result))

    async def follow(self, handle: WorkflowHandle, kind: str) -> str:
        try:
            if kind == "SignalOrder":
                await asyncio.sleep(0.2)
                await self.signal(handle.id)
            value = await retrying(f"result {handle.id}", handle.result)
            self.completed += 1
            return value
        finally:
            self.slots.release()

    async def signal(self, workflow_id: str) -> None:
        request = SignalWorkflowExecutionRequest(
            namespace=self.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name="approve",
            request_id=f"approve-{workflow_id}",
            identity=IDENTITY,
        )
        await retrying(
            f"signal {workflow_id}",
            lambda: self.client.workflow_service.signal_workflow_execution(request, retry=True),
        )

    async def run(self, first: int, until: asyncio.Event, limit: int | None = None) -> int:
        """Starts workflows from `first` on until `until` is set (or `limit`
        are started); returns the next order number."""
        order = first
        while not until.is_set() and (limit is None or order - first < limit):
            await self.start(order, await self.request_for(order))
            order += 1
            await asyncio.sleep(START_PAUSE)
        return order

    def running(self) -> int:
        return sum(1 for started in self.started if not started.result.done())


async def read_stdin_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def handshake(expected: str) -> None:
    line = await read_stdin_line()
    check_eq(line, expected, "line from the test driver on stdin")


async def probe_while_down(client: Client, probe: StartWorkflowExecutionRequest) -> None:
    """Requests fail promptly with UNAVAILABLE, naming the unreachable store."""
    began = time.monotonic()
    await expect_rpc_error(
        "a start while Cassandra is down",
        client.workflow_service.start_workflow_execution(probe, retry=False, timeout=PROBE_TIMEOUT),
        RPCStatusCode.UNAVAILABLE,
        message_mentions="the store is unreachable",
    )
    describe = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=new_id("restart-never-started"))
    )
    await expect_rpc_error(
        "a describe of an unknown workflow while Cassandra is down",
        client.workflow_service.describe_workflow_execution(describe, retry=False, timeout=PROBE_TIMEOUT),
        RPCStatusCode.UNAVAILABLE,
        message_mentions="the store is unreachable",
    )
    log(f"both probes answered UNAVAILABLE within {time.monotonic() - began:.2f}s")


async def verify(started: Started) -> None:
    handle = started.handle
    value = started.result.result()
    check_eq(value, expected_result(started.order), f"{handle.id}: result")
    history = await retrying(f"history {handle.id}", handle.fetch_history)
    types = event_types(history)
    check_eq(
        [e.event_id for e in history.events], list(range(1, len(types) + 1)), f"{handle.id}: event ids"
    )
    expected_once = ["WorkflowExecutionStarted", "WorkflowExecutionCompleted"]
    if started.kind == "TimerOrder":
        expected_once += ["TimerStarted", "TimerFired"]
    else:
        expected_once += ["WorkflowExecutionSignaled"]
    for event in expected_once:
        check_eq(types.count(event), 1, f"{handle.id}: {event} events in {types}")
    for event in ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted"]:
        check_eq(types.count(event), 2, f"{handle.id}: {event} events in {types}")
    activity_names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    for e in history.events:
        if e.HasField("activity_task_started_event_attributes"):
            started_event = e.activity_task_started_event_attributes
            COMPLETED_ATTEMPTS[(handle.id, activity_names[started_event.scheduled_event_id])] = started_event
    check_eq(types[-1], "WorkflowExecutionCompleted", f"{handle.id}: last event")
    description = await retrying(f"describe {handle.id}", handle.describe)
    check_eq(description.status, WorkflowExecutionStatus.COMPLETED, f"{handle.id}: status")
    check_eq(description.run_id, handle.first_execution_run_id, f"{handle.id}: run id (one run per id)")


def check_activity_executions(workflow_ids: list[str], recovered_at: float) -> tuple[int, int]:
    """See the module's description. Returns how many activities were
    retried, and how many attempts never reached the worker."""
    twice = {key: n for key, n in EXECUTIONS.items() if n > 1}
    check(not twice, f"activity attempts executed more than once: {sorted(twice.items())[:5]}")
    retried = unseen = 0
    for workflow_id in workflow_ids:
        for name in ["reserve", "ship"]:
            what = f"{workflow_id}: {name}"
            ran = sorted(a for (w, n, a) in EXECUTIONS if w == workflow_id and n == name)
            completed = COMPLETED_ATTEMPTS[(workflow_id, name)]
            check(ran, f"{what} never ran")
            check_eq(ran[-1], completed.attempt, f"{what}: the completed attempt is the worker's last")
            if completed.attempt == 1:
                continue
            retried += 1
            unseen += completed.attempt - len(ran)
            timed_out = completed.last_failure.timeout_failure_info.timeout_type
            check_eq(
                timed_out,
                TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
                f"{what}: why attempt {completed.attempt} was needed ({completed.last_failure})",
            )
            for attempt in ran[:-1]:
                ran_at = STARTED_AT[(workflow_id, name, attempt)]
                check(
                    ran_at < recovered_at,
                    f"{what}: attempt {attempt} ran {ran_at - recovered_at:.1f}s after Temper recovered, "
                    "yet timed out",
                )
    return retried, unseen


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("restart-tq")
    driver = Driver(client, task_queue, new_id("restart-wf"))
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[TimerOrder, SignalOrder], activities=[reserve, ship]
    ):
        stop_starting = asyncio.Event()
        starting = asyncio.create_task(driver.run(0, stop_starting))
        while driver.completed < COMPLETED_BEFORE_STOP or driver.running() < RUNNING_AT_STOP:
            check(not starting.done(), "the driver stopped starting workflows")
            await asyncio.sleep(0.05)
        print(
            f"STOP_POINT started={len(driver.started)} completed={driver.completed} running={driver.running()}",
            flush=True,
        )
        await handshake("STOPPED")
        log("the test says Cassandra was killed with SIGKILL")
        probe = driver.start_request(-1, "TimerOrder", await client.data_converter.encode([-1]))
        await probe_while_down(client, probe)
        await asyncio.sleep(DOWN_FOR)
        print(f"RESTART_POINT started={len(driver.started)} completed={driver.completed}", flush=True)
        await handshake("RESTARTED")
        log("the test says Cassandra is back; Temper must recover by itself")

        # The probe start again, with its request id: it starts the workflow,
        # or answers with the run it started if it was recorded after all.
        await driver.start(-1, probe)
        recovered_at = time.monotonic()
        log(f"Temper serves again: {len(driver.started)} workflows started so far")
        stop_starting.set()
        next_order = await starting
        await driver.run(next_order, asyncio.Event(), limit=STARTED_AFTER_RECOVERY)
        await asyncio.gather(*(started.result for started in driver.started))
        log(f"all {len(driver.started)} workflows returned")

    await asyncio.gather(*(verify(started) for started in driver.started))
    retried, unseen = check_activity_executions([s.handle.id for s in driver.started], recovered_at)
    log(
        f"verified {len(driver.started)} workflows ({STARTED_AFTER_RECOVERY} started after recovery); "
        f"activity executions: {sum(EXECUTIONS.values())}, activities retried after the outage: {retried} "
        f"({unseen} attempts never reached the worker); "
        f"RPCs retried by the driver: {retrying.summary()}"
    )


if __name__ == "__main__":
    run_scenario(
        main,
        "Cassandra killed and restarted under Temper while workflows run",
        timeout=300.0,
    )
