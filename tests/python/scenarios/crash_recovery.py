"""Scenario 14: the server is killed with SIGKILL mid-flight and restarted.

Driven by the Rust test (tests/tests/crash_recovery.rs), which owns the
server: with a worker running, this script starts COUNT workflows, each doing
activity -> child workflow (a 1 s timer) -> wait for an update -> 2 s timer
-> activity, and sends each its update. The children live on other shards
than their parents, so the crash also hits starts and results in flight
between shards, and updates admitted, accepted or waited on. Once all are started and some first
activities have completed, it prints a line starting with CRASH_POINT. The
Rust side then kills the server with SIGKILL, restarts it on the same port
and database file, and writes "RESTARTED" to this script's stdin
(--crash-handshake). The script then collects every result.

Like a real user program, the script retries its own RPCs (start, result,
describe, fetch_history) while the server answers UNAVAILABLE; the SDK's
worker keeps polling by itself. No check is weakened: every workflow must
complete exactly once with the right result, its history must hold exactly
one WorkflowExecutionStarted and one WorkflowExecutionCompleted event (and
describe() must show COMPLETED on the original run). Activities are
at-least-once: an activity whose completion was lost in the crash may run
again; the script reports how many did.

Without --crash-handshake it runs the same workload with no crash, which is
how to try it by hand. The cluster tests (tests/tests/cluster.rs) drive it
the same way with other disruptions: an engine killed for good, an engine
paused past its lease; --count sets how many workflows are in flight.
"""

import asyncio
import sys
from collections import Counter
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from _common import UnavailableRetrier, check, check_eq, connect, event_types, log, new_id, run_scenario, for_worker

DEFAULT_COUNT = 100
TIMER_SECONDS = 2.0
CHILD_TIMER_SECONDS = 1.0
# First activities that must have completed before the crash point.
FIRST_ACTIVITIES_BEFORE_CRASH = 20
# How long the script keeps retrying an RPC the server answers UNAVAILABLE
# (only that means "the server is not there right now").
RPC_RETRY_WINDOW = 120.0

# Activity executions, per (workflow id, activity name), in this process.
EXECUTIONS: Counter = Counter()


@activity.defn
async def reserve(order: int) -> str:
    EXECUTIONS[(activity.info().workflow_id, "reserve")] += 1
    return f"reserved-{order}"


@activity.defn
async def ship(reservation: str) -> str:
    EXECUTIONS[(activity.info().workflow_id, "ship")] += 1
    return f"shipped-{reservation}"


@workflow.defn
class PackWorkflow:
    @workflow.run
    async def run(self, reservation: str) -> str:
        await workflow.sleep(timedelta(seconds=CHILD_TIMER_SECONDS))
        return f"packed-{reservation}"


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self.expedited = False

    @workflow.update
    def expedite(self) -> str:
        self.expedited = True
        return f"expedited-{workflow.info().workflow_id}"

    @workflow.run
    async def run(self, order: int) -> str:
        reservation = await workflow.execute_activity(
            reserve, order, start_to_close_timeout=timedelta(seconds=10)
        )
        packed = await workflow.execute_child_workflow(
            PackWorkflow.run, reservation, id=f"{workflow.info().workflow_id}-pack"
        )
        if packed != f"packed-{reservation}":
            raise ApplicationError(f"the child returned {packed!r}", non_retryable=True)
        await workflow.wait_condition(lambda: self.expedited)
        await workflow.sleep(timedelta(seconds=TIMER_SECONDS))
        return await workflow.execute_activity(
            ship, reservation, start_to_close_timeout=timedelta(seconds=10)
        )


def expected_result(order: int) -> str:
    return f"shipped-reserved-{order}"


COUNT = DEFAULT_COUNT


def count_executions(name: str) -> int:
    return sum(1 for (_, activity_name) in EXECUTIONS if activity_name == name)


retrying = UnavailableRetrier(RPC_RETRY_WINDOW)


async def read_stdin_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def main(args) -> None:
    global COUNT
    COUNT = args.count
    client = await connect(args)
    task_queue = new_id("crash-tq")
    prefix = new_id("crash-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[OrderWorkflow, PackWorkflow], activities=[reserve, ship]
    ):
        handles: list[WorkflowHandle] = await asyncio.gather(
            *(
                retrying(
                    f"start {prefix}-{n}",
                    lambda n=n: client.start_workflow(
                        OrderWorkflow.run, n, id=f"{prefix}-{n}", task_queue=task_queue
                    ),
                )
                for n in range(COUNT)
            )
        )
        log(f"started {COUNT} workflows, {prefix}-0 to {prefix}-{COUNT - 1}, on task queue {task_queue}")

        # Collect results concurrently from now on; they can only arrive after
        # each workflow's timer.
        results = [
            asyncio.create_task(retrying(f"result {h.id}", h.result)) for h in handles
        ]

        while count_executions("reserve") < FIRST_ACTIVITIES_BEFORE_CRASH:
            await asyncio.sleep(0.01)
        # Sent as the disruption begins: updates are admitted, accepted and
        # waited on across it. A retried update carries the same id, so it is
        # applied once.
        updates = [
            asyncio.create_task(
                retrying(f"update {h.id}", lambda h=h: h.execute_update(OrderWorkflow.expedite, id=f"expedite-{h.id}"))
            )
            for h in handles
        ]
        completed_before = sum(1 for r in results if r.done())
        shipped_before = count_executions("ship")
        print(
            f"CRASH_POINT started={COUNT} reserve_done={count_executions('reserve')} "
            f"ship_done={shipped_before} workflows_done={completed_before}",
            flush=True,
        )
        check(
            completed_before < COUNT,
            "all workflows finished before the crash point; the crash tests nothing",
        )
        if args.crash_handshake:
            line = await read_stdin_line()
            check_eq(line, "RESTARTED", "line from the test driver on stdin")
            log("driver says the disruption is over (server killed and restarted, or the like)")

        values = await asyncio.gather(*results)
        log(f"all {COUNT} workflows returned")
        updated = await asyncio.gather(*updates)
        wrong_updates = [(h.id, u) for h, u in zip(handles, updated) if u != f"expedited-{h.id}"]
        check(not wrong_updates, f"{len(wrong_updates)} updates returned wrong results, e.g. {wrong_updates[:5]}")

    wrong = [(n, v) for n, v in enumerate(values) if v != expected_result(n)]
    check(not wrong, f"{len(wrong)} workflows returned wrong results, e.g. {wrong[:5]}")

    async def verify(n: int, handle: WorkflowHandle) -> None:
        history = await retrying(f"history {handle.id}", handle.fetch_history)
        types = event_types(history)
        check_eq(
            types.count("WorkflowExecutionStarted"), 1, f"{handle.id}: WorkflowExecutionStarted events"
        )
        check_eq(
            types.count("WorkflowExecutionCompleted"),
            1,
            f"{handle.id}: WorkflowExecutionCompleted events",
        )
        check_eq(types[-1], "WorkflowExecutionCompleted", f"{handle.id}: last event")
        check_eq(
            [e.event_id for e in history.events],
            list(range(1, len(types) + 1)),
            f"{handle.id}: event ids",
        )
        completed = history.events[-1].workflow_execution_completed_event_attributes
        check_eq(
            [p.data.decode() for p in completed.result.payloads],
            [f'"{expected_result(n)}"'],
            f"{handle.id}: result recorded in the history",
        )
        description = await retrying(f"describe {handle.id}", handle.describe)
        check_eq(description.status, WorkflowExecutionStatus.COMPLETED, f"{handle.id}: status")
        check_eq(
            description.run_id, handle.first_execution_run_id, f"{handle.id}: run id (no new run)"
        )
        for child_event in (
            "StartChildWorkflowExecutionInitiated", "ChildWorkflowExecutionStarted", "ChildWorkflowExecutionCompleted",
            "WorkflowExecutionUpdateAccepted", "WorkflowExecutionUpdateCompleted",
        ):
            check_eq(types.count(child_event), 1, f"{handle.id}: {child_event} events")
        child = client.get_workflow_handle(f"{handle.id}-pack")
        child_types = event_types(await retrying(f"history {child.id}", child.fetch_history))
        check_eq(child_types.count("WorkflowExecutionStarted"), 1, f"{child.id}: WorkflowExecutionStarted events")
        check_eq(child_types[-1], "WorkflowExecutionCompleted", f"{child.id}: last event")
        child_description = await retrying(f"describe {child.id}", child.describe)
        check_eq(child_description.parent_id, handle.id, f"{child.id}: parent")

    await asyncio.gather(*(verify(n, h) for n, h in enumerate(handles)))
    repeated = {key: n for key, n in EXECUTIONS.items() if n > 1}
    log(
        f"verified {COUNT} histories; activity executions: reserve={count_executions('reserve')} "
        f"ship={count_executions('ship')}; re-executed after the crash: {len(repeated)} "
        f"{sorted(repeated.items())[:5]}; RPCs the script had to retry itself: "
        f"{retrying.summary()}"
    )
    check_eq(count_executions("reserve"), COUNT, "workflows whose reserve activity ran")
    check_eq(count_executions("ship"), COUNT, "workflows whose ship activity ran")


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="workflows in flight")
    parser.add_argument(
        "--crash-handshake",
        action="store_true",
        help="after printing CRASH_POINT, wait for a RESTARTED line on stdin",
    )


if __name__ == "__main__":
    run_scenario(
        main,
        "workflows in flight survive a SIGKILL of the server and a restart",
        timeout=240.0,
        add_arguments=add_arguments,
    )
