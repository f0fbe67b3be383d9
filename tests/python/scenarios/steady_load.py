"""Workflows started at a steady rate while the cluster is disrupted.

Driven by the cluster restart tests (tests/tests/cluster_restarts.rs): with a
worker polling through --worker-address, this script starts workflows (one
activity each) through --address at --rate per second. Once some have
completed it prints a line starting with LOAD_RUNNING; it keeps starting
workflows until the driver, done disrupting the cluster (restarting its
processes one by one, or Kafka), writes STOP on stdin. Meanwhile each PROGRESS
line it writes is answered with LOAD_PROGRESSED once 50 more workflows have
completed: the cluster serves again. Then it collects every
result and checks each workflow completed exactly once: the right result, one
WorkflowExecutionStarted and one WorkflowExecutionCompleted event, contiguous
event ids.

Like a real user program, it retries its own RPCs while the server answers
UNAVAILABLE (a restarting gateway, Kafka down); the SDK's worker keeps
polling by itself. A start retried after UNAVAILABLE may find that its first
try landed (the reply was lost): WorkflowAlreadyStartedError then means
"started", and the history check still requires one started event. At most
--max-in-flight workflows are under way at once (a slower cluster, or one
disrupted, slows the starts down as it would a real program's); the script
reports the rate it achieved and how many RPCs it had to retry.
"""

import asyncio
import sys
import time
from collections import Counter
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from _common import (
    UnavailableRetrier,
    check,
    check_eq,
    connect,
    error_chain,
    event_type_name,
    event_types,
    for_worker,
    log,
    new_id,
    run_scenario,
)

# Completed workflows before LOAD_RUNNING: the cluster serves the load.
COMPLETED_BEFORE_RUNNING = 50
# Workflows that must complete after a PROGRESS line from the driver before
# LOAD_PROGRESSED: the cluster serves again after a disruption.
PROGRESS_STEP = 50
# How long an RPC is retried while the server answers UNAVAILABLE: longer
# than any restart the driver makes.
RPC_RETRY_WINDOW = 180.0
# Seconds without a completed workflow before the load says what it waits for.
STALL_REPORT = 15.0
# Awaited workflows described in a stall report.
STUCK_REPORTED = 3
# Histories read at once when verifying.
VERIFY_CONCURRENCY = 32

# Activity executions per workflow id, in this process.
EXECUTIONS: Counter = Counter()


@activity.defn
async def greet(n: int) -> str:
    EXECUTIONS[activity.info().workflow_id] += 1
    return f"hello-{n}"


@workflow.defn
class GreetWorkflow:
    @workflow.run
    async def run(self, n: int) -> str:
        return await workflow.execute_activity(greet, n, start_to_close_timeout=timedelta(seconds=30))


retrying = UnavailableRetrier(RPC_RETRY_WINDOW)


class Load:
    """Starts workflow n at n / rate seconds and collects its result."""

    def __init__(self, client: Client, task_queue: str, rate: float, max_in_flight: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.rate = rate
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self.prefix = new_id("load-wf")
        self.results: list[asyncio.Task] = []
        self.already_started = 0
        # Workflows whose start, and whose result, is awaited right now.
        self.starting = 0
        self.awaiting_result = 0

    def workflow_id(self, n: int) -> str:
        return f"{self.prefix}-{n}"

    async def start(self, n: int) -> WorkflowHandle:
        attempts = 0

        async def attempt() -> WorkflowHandle:
            nonlocal attempts
            attempts += 1
            return await self.client.start_workflow(
                GreetWorkflow.run, n, id=self.workflow_id(n), task_queue=self.task_queue
            )

        try:
            return await retrying(f"start {self.workflow_id(n)}", attempt)
        except WorkflowAlreadyStartedError:
            # Only a retried start may find its own first try landed.
            check(attempts > 1, f"{self.workflow_id(n)}: already started at the first try")
            self.already_started += 1
            return self.client.get_workflow_handle(self.workflow_id(n))

    async def run_one(self, n: int) -> str:
        try:
            self.starting += 1
            try:
                handle = await self.start(n)
            finally:
                self.starting -= 1
            self.awaiting_result += 1
            try:
                return await retrying(f"result {handle.id}", handle.result)
            finally:
                self.awaiting_result -= 1
        finally:
            self.in_flight.release()

    def state(self) -> str:
        return (
            f"started={len(self.results)} completed={self.completed()} "
            f"awaiting_start={self.starting} awaiting_result={self.awaiting_result}"
        )

    def completed(self) -> int:
        return sum(1 for result in self.results if result.done())

    async def keep_starting(self, stop: asyncio.Event) -> None:
        next_start = time.monotonic()
        while not stop.is_set():
            await self.in_flight.acquire()
            n = len(self.results)
            self.results.append(asyncio.create_task(self.run_one(n)))
            # After a stall, no burst to catch up: at most `rate` per second.
            next_start = max(next_start + 1 / self.rate, time.monotonic())
            try:
                await asyncio.wait_for(stop.wait(), next_start - time.monotonic())
            except asyncio.TimeoutError:
                pass


async def verify(client: Client, workflow_id: str, n: int, gate: asyncio.Semaphore) -> None:
    async with gate:
        handle = client.get_workflow_handle(workflow_id)
        history = await retrying(f"history {workflow_id}", handle.fetch_history)
    types = event_types(history)
    check_eq(types.count("WorkflowExecutionStarted"), 1, f"{workflow_id}: WorkflowExecutionStarted events")
    check_eq(types.count("WorkflowExecutionCompleted"), 1, f"{workflow_id}: WorkflowExecutionCompleted events")
    check_eq(types[-1], "WorkflowExecutionCompleted", f"{workflow_id}: last event")
    check_eq([e.event_id for e in history.events], list(range(1, len(types) + 1)), f"{workflow_id}: event ids")
    completed = history.events[-1].workflow_execution_completed_event_attributes
    check_eq([p.data.decode() for p in completed.result.payloads], [f'"hello-{n}"'], f"{workflow_id}: result")


async def read_stdin_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def follow_driver(load: Load, worker: asyncio.Task) -> None:
    """Answers the driver's PROGRESS lines until it writes STOP. A worker
    that stopped fails the scenario at once; a wait without progress says
    every STALL_REPORT seconds what the load is waiting for."""
    while (line := await read_stdin_line()) == "PROGRESS":
        target = load.completed() + PROGRESS_STEP
        last_completed, last_change = load.completed(), time.monotonic()
        while load.completed() < target:
            check_worker_running(worker)
            if load.completed() != last_completed:
                last_completed, last_change = load.completed(), time.monotonic()
            elif time.monotonic() - last_change > STALL_REPORT:
                log(f"LOAD_STALLED for {STALL_REPORT:.0f}s: {load.state()}")
                await report_stuck(load)
                last_change = time.monotonic()
            await asyncio.sleep(0.05)
        print(f"LOAD_PROGRESSED started={len(load.results)} completed={load.completed()}", flush=True)
    check_eq(line, "STOP", "line from the test driver on stdin")


async def report_stuck(load: Load) -> None:
    """Says, a line each, where the oldest workflows still awaited stand
    (pending workflow task and activities, last events), and who polls
    their queue: what a stall's cause is read from."""
    stuck = [n for n, result in enumerate(load.results) if not result.done()][:STUCK_REPORTED]
    for n in stuck:
        handle = load.client.get_workflow_handle(load.workflow_id(n))
        try:
            described = await asyncio.wait_for(handle.describe(), 5)
            raw = described.raw_description
            history = await asyncio.wait_for(handle.fetch_history(), 5)
            task = raw.pending_workflow_task
            task_state = f"{PendingWorkflowTaskState.Name(task.state)} attempt {task.attempt}" if raw.HasField("pending_workflow_task") else "none"
            activities = [f"{PendingActivityState.Name(a.state)} attempt {a.attempt}" for a in raw.pending_activities]
            tail = [f"{e.event_id}:{event_type_name(e.event_type)}" for e in history.events[-4:]]
            status = described.status.name if described.status else None
            log(f"  {handle.id}: {status}, workflow task {task_state}, activities {activities}, last events {tail}")
        except Exception as err:  # noqa: BLE001 - a diagnosis must not end the scenario
            log(f"  {handle.id}: describing it failed: {error_chain(err)}")
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        try:
            described = await asyncio.wait_for(
                load.client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=load.client.namespace,
                        task_queue=TaskQueue(name=load.task_queue),
                        task_queue_type=kind,
                    )
                ),
                5,
            )
            pollers = [p.identity for p in described.pollers]
            log(f"  queue {load.task_queue} {TaskQueueType.Name(kind)}: pollers {pollers}")
        except Exception as err:  # noqa: BLE001
            log(f"  queue {load.task_queue} {TaskQueueType.Name(kind)}: describing it failed: {error_chain(err)}")


def check_worker_running(worker: asyncio.Task) -> None:
    if worker.done():
        error = worker.exception() if not worker.cancelled() else "cancelled"
        check(False, f"the worker stopped while the load ran: {error!r}")


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("load-tq")
    worker = Worker(
        for_worker(client),
        task_queue=task_queue,
        workflows=[GreetWorkflow],
        activities=[greet],
        max_concurrent_activities=200,
        max_concurrent_workflow_tasks=200,
    )
    # Run as a task of its own, so the load can tell when it stopped.
    running = asyncio.create_task(worker.run())
    try:
        load = Load(client, task_queue, args.rate, args.max_in_flight)
        stop = asyncio.Event()
        starting = asyncio.create_task(load.keep_starting(stop))
        while load.completed() < COMPLETED_BEFORE_RUNNING:
            check(not starting.done(), "the load stopped starting workflows")
            check_worker_running(running)
            await asyncio.sleep(0.05)
        begun = time.monotonic()
        print(f"LOAD_RUNNING started={len(load.results)} completed={load.completed()}", flush=True)
        await follow_driver(load, running)
        stop.set()
        await starting
        count = len(load.results)
        log(f"LOAD_RATE started {count} workflows, {count / (time.monotonic() - begun):.1f}/s while disrupted; collecting")
        values = await asyncio.gather(*load.results)
        log(f"all {count} workflows returned after {time.monotonic() - begun:.1f}s")
    finally:
        # A worker that failed was reported by check_worker_running.
        if not running.done():
            await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)

    wrong = [(n, v) for n, v in enumerate(values) if v != f"hello-{n}"]
    check(not wrong, f"{len(wrong)} workflows returned wrong results, e.g. {wrong[:5]}")
    gate = asyncio.Semaphore(VERIFY_CONCURRENCY)
    await asyncio.gather(*(verify(client, load.workflow_id(n), n, gate) for n in range(count)))
    check_eq(len(EXECUTIONS), count, "workflows whose activity ran")
    repeated = sum(1 for runs in EXECUTIONS.values() if runs > 1)
    log(
        f"LOAD_VERIFIED workflows={count} activities_run_again={repeated} "
        f"starts_found_already_started={load.already_started} retried_rpcs={retrying.summary()}"
    )


def add_arguments(parser) -> None:
    parser.add_argument("--rate", type=float, default=100.0, help="workflows started per second, at most")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=200,
        help="workflows started and not yet completed, at most: a cluster slower than the rate slows the load down",
    )


if __name__ == "__main__":
    run_scenario(
        main,
        "workflows started at a steady rate complete exactly once while the cluster is disrupted",
        timeout=900.0,
        add_arguments=add_arguments,
    )
