"""Listing and counting workflows with Temporal's list filter language.

A worker runs two workflow types: `Finisher` completes (or fails, when told
to), `Waiter` waits for a signal. The scenario starts a handful of each,
then checks through the official SDK's `list_workflows` / `count_workflows`:
- read-your-writes: every workflow is listed by a query on its id right
  after its start returned (Temporal's own visibility misses some), and
  listed as completed right after its result returned;
- filters on WorkflowId, WorkflowType, ExecutionStatus, StartTime ranges,
  CloseTime IS NULL, IN, STARTS_WITH, NOT, OR and parentheses, each
  compared with the set the scenario knows;
- ORDER BY StartTime ascending and descending, and ORDER BY WorkflowId;
- count, and count GROUP BY ExecutionStatus;
- paging over 1,050 workflows with pages of 100: every workflow exactly
  once, while more workflows are started between pages;
- the legacy ListOpenWorkflowExecutions / ListClosedWorkflowExecutions;
- the official CLI's `temporal workflow list --query` and `workflow count`;
- DeleteWorkflowExecution of a closed and of a running workflow (the CLI's
  `temporal workflow delete`): gone from describe and lists at once;
- bad input: a malformed query (the error names the position), an unknown
  attribute, a value of the wrong type, GROUP BY in a list, an unknown
  namespace.
Every query is scoped to this run's ids (a unique prefix), so other
scenarios' workflows on the same server do not matter.
"""

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.api.filter.v1 import StartTimeFilter, WorkflowExecutionFilter
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, expect_rpc_error, for_worker, log, new_id, run_scenario

READ_YOUR_WRITES_TRIES = 20
PAGED = 1050
PAGE_SIZE = 100
STARTS_AT_ONCE = 50


@workflow.defn
class Finisher:
    @workflow.run
    async def run(self, fail: bool) -> str:
        if fail:
            raise ApplicationError("told to fail", non_retryable=True)
        return "done"


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._go)
        return "released"

    @workflow.signal
    def go(self) -> None:
        self._go = True


async def ids_of(client: Client, query: str) -> list[str]:
    return [execution.id async for execution in client.list_workflows(query)]


async def check_listed(client: Client, query: str, expected: set[str], what: str) -> None:
    listed = await ids_of(client, query)
    check_eq(len(listed), len(set(listed)), f"{what}: no workflow listed twice")
    check_eq(set(listed), expected, what)


async def read_your_writes(client: Client, prefix: str, task_queue: str) -> None:
    """Each start is listed at once; each result is followed at once by a
    listing as completed."""
    for n in range(READ_YOUR_WRITES_TRIES):
        workflow_id = f"{prefix}-ryw-{n}"
        handle = await client.start_workflow(Finisher.run, False, id=workflow_id, task_queue=task_queue)
        listed = await ids_of(client, f"WorkflowId = '{workflow_id}'")
        check_eq(listed, [workflow_id], f"start {n}: listed right after the start returned")
        await handle.result()
        completed = await ids_of(client, f"WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Completed'")
        check_eq(completed, [workflow_id], f"run {n}: listed as completed right after its result returned")
    log(f"read-your-writes: {READ_YOUR_WRITES_TRIES} starts and results listed at once")


async def filters(client: Client, prefix: str, task_queue: str) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    done = {f"{prefix}-done-{n}" for n in range(3)}
    failed = {f"{prefix}-failed-{n}" for n in range(2)}
    waiting = {f"{prefix}-wait-{n}" for n in range(4)}
    for workflow_id in sorted(done):
        await (await client.start_workflow(Finisher.run, False, id=workflow_id, task_queue=task_queue)).result()
    for workflow_id in sorted(failed):
        handle = await client.start_workflow(Finisher.run, True, id=workflow_id, task_queue=task_queue)
        try:
            await handle.result()
            check(False, f"{workflow_id} should fail")
        except WorkflowFailureError:
            pass
    for workflow_id in sorted(waiting):
        await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    everything = done | failed | waiting
    mine = f"WorkflowId STARTS_WITH '{prefix}-' AND WorkflowId NOT STARTS_WITH '{prefix}-ryw-'"

    await check_listed(client, mine, everything, "STARTS_WITH")
    await check_listed(client, f"{mine} AND WorkflowType = 'Waiter'", waiting, "WorkflowType")
    await check_listed(client, f"{mine} AND ExecutionStatus = 'Running'", waiting, "ExecutionStatus Running")
    await check_listed(client, f"{mine} AND ExecutionStatus = 'Failed'", failed, "ExecutionStatus Failed")
    await check_listed(client, f"{mine} AND ExecutionStatus != 'Running'", done | failed, "ExecutionStatus !=")
    await check_listed(client, f"{mine} AND CloseTime IS NULL", waiting, "CloseTime IS NULL")
    await check_listed(client, f"{mine} AND CloseTime IS NOT NULL", done | failed, "CloseTime IS NOT NULL")
    await check_listed(
        client,
        f"{mine} AND StartTime BETWEEN '{before.isoformat()}' AND '{after.isoformat()}'",
        everything,
        "StartTime BETWEEN",
    )
    await check_listed(client, f"{mine} AND StartTime > '{after.isoformat()}'", set(), "StartTime after the last start")
    some = sorted(waiting)[:2]
    await check_listed(client, f"WorkflowId IN ('{some[0]}', '{some[1]}')", set(some), "IN")
    await check_listed(
        client,
        f"{mine} AND (ExecutionStatus = 'Failed' OR WorkflowType = 'Waiter')",
        failed | waiting,
        "OR in parentheses",
    )
    await check_listed(client, f"{mine} AND NOT ExecutionStatus = 'Running'", done | failed, "NOT")

    ascending = await ids_of(client, f"{mine} ORDER BY StartTime ASC")
    check_eq(ascending, sorted(done) + sorted(failed) + sorted(waiting), "ORDER BY StartTime ASC: start order")
    descending = await ids_of(client, f"{mine} ORDER BY StartTime DESC")
    check_eq(descending, list(reversed(ascending)), "ORDER BY StartTime DESC")
    by_id = await ids_of(client, f"{mine} ORDER BY WorkflowId")
    check_eq(by_id, sorted(everything), "ORDER BY WorkflowId")

    counted = await client.count_workflows(mine)
    check_eq(counted.count, len(everything), "count")
    grouped = await client.count_workflows(f"{mine} GROUP BY ExecutionStatus")
    groups = {tuple(group.group_values): group.count for group in grouped.groups}
    check_eq(groups, {("Completed",): 3, ("Failed",): 2, ("Running",): 4}, "count GROUP BY ExecutionStatus")
    check_eq(grouped.count, len(everything), "grouped count total")

    await legacy_lists(client, waiting, done | failed, sorted(waiting)[0], before)
    for workflow_id in sorted(waiting):
        await client.get_workflow_handle(workflow_id).signal(Waiter.go)
    log("filters, ORDER BY, count and GROUP BY agree with what the scenario started")


async def legacy_lists(client: Client, waiting: set[str], closed: set[str], one_waiting: str, before: datetime) -> None:
    """The legacy RPCs, filtered down to this run's workflows by id."""
    service = client.workflow_service
    since = StartTimeFilter()
    since.earliest_time.FromDatetime(before)
    response = await service.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(
            namespace=client.namespace,
            start_time_filter=since,
            execution_filter=WorkflowExecutionFilter(workflow_id=one_waiting),
        )
    )
    check_eq([e.execution.workflow_id for e in response.executions], [one_waiting], "ListOpenWorkflowExecutions")
    for workflow_id in sorted(closed):
        response = await service.list_closed_workflow_executions(
            ListClosedWorkflowExecutionsRequest(
                namespace=client.namespace,
                start_time_filter=since,
                execution_filter=WorkflowExecutionFilter(workflow_id=workflow_id),
            )
        )
        check_eq([e.execution.workflow_id for e in response.executions], [workflow_id], f"ListClosed {workflow_id}")
    response = await service.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace=client.namespace, execution_filter=WorkflowExecutionFilter(workflow_id=one_waiting)
        )
    )
    check_eq(list(response.executions), [], "a running workflow is not in ListClosedWorkflowExecutions")


async def paging(client: Client, prefix: str) -> None:
    """Pages through PAGED workflows; between pages more are started, which
    must neither repeat nor hide any of the first ones."""
    paged_prefix = f"{prefix}-paged-"
    task_queue = new_id("visibility-nobody-polls")
    for first in range(0, PAGED, STARTS_AT_ONCE):
        await asyncio.gather(
            *(
                client.start_workflow("Idle", id=f"{paged_prefix}{n:05}", task_queue=task_queue)
                for n in range(first, min(first + STARTS_AT_ONCE, PAGED))
            )
        )
    query = f"WorkflowId STARTS_WITH '{paged_prefix}' ORDER BY WorkflowId"
    seen: list[str] = []
    token = b""
    pages = 0
    while True:
        response = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=client.namespace, query=query, page_size=PAGE_SIZE, next_page_token=token
            )
        )
        check(len(response.executions) <= PAGE_SIZE, f"page {pages} holds at most {PAGE_SIZE}")
        seen.extend(e.execution.workflow_id for e in response.executions)
        pages += 1
        # Arrivals sorting before and after the cursor.
        await client.start_workflow("Idle", id=f"{paged_prefix}{pages:05}-late", task_queue=task_queue)
        token = response.next_page_token
        if not token:
            break
    originals = [workflow_id for workflow_id in seen if not workflow_id.endswith("-late")]
    check_eq(originals, [f"{paged_prefix}{n:05}" for n in range(PAGED)], "every paged workflow exactly once, in order")
    check_eq(len(seen), len(set(seen)), "no workflow on two pages")
    log(f"paging: {PAGED} workflows over {pages} pages of {PAGE_SIZE}, none repeated or skipped")


def temporal_cli(args, *command: str) -> str:
    """Runs the official CLI against the server; its standard output."""
    cli = os.path.join(os.path.dirname(sys.executable), "temporal")
    done = subprocess.run(
        [cli, *command, "--address", args.address, "--namespace", args.namespace],
        capture_output=True,
        text=True,
        timeout=60,
    )
    check(done.returncode == 0, f"temporal {' '.join(command)} failed: {done.stdout} {done.stderr}")
    return done.stdout


def official_cli(args, prefix: str) -> None:
    """`temporal workflow list --query` and `temporal workflow count`."""
    mine = f"WorkflowId STARTS_WITH '{prefix}-' AND WorkflowId NOT STARTS_WITH '{prefix}-paged-'"
    listed = json.loads(temporal_cli(args, "workflow", "list", "--query", f"{mine} AND ExecutionStatus = 'Failed'", "-o", "json"))
    check_eq(
        sorted(execution["execution"]["workflowId"] for execution in listed),
        [f"{prefix}-failed-0", f"{prefix}-failed-1"],
        "temporal workflow list --query",
    )
    counted = temporal_cli(args, "workflow", "count", "--query", f"{mine} AND WorkflowType = 'Finisher'")
    check_eq(counted.strip(), f"Total: {READ_YOUR_WRITES_TRIES + 5}", "temporal workflow count")
    grouped = temporal_cli(args, "workflow", "count", "--query", f"{mine} GROUP BY ExecutionStatus")
    check(f"Group total: 2, values: Failed" in grouped, f"temporal workflow count GROUP BY: {grouped}")
    log("the official CLI lists and counts")


async def deletion(args, client: Client, prefix: str, task_queue: str) -> None:
    """DeleteWorkflowExecution: a closed run, and a running one (terminated
    first, as in Temporal), the latter through the official CLI; each is
    gone from describe and, at once, from lists."""
    closed = f"{prefix}-delete-closed"
    await (await client.start_workflow(Finisher.run, False, id=closed, task_queue=task_queue)).result()
    running = f"{prefix}-delete-running"
    await client.start_workflow(Waiter.run, id=running, task_queue=task_queue)
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=closed))
    )
    temporal_cli(args, "workflow", "delete", "--workflow-id", running, "--yes")
    for workflow_id in (closed, running):
        await expect_rpc_error(
            f"describe {workflow_id} after its deletion",
            client.get_workflow_handle(workflow_id).describe(),
            RPCStatusCode.NOT_FOUND,
        )
    await check_listed(client, f"WorkflowId STARTS_WITH '{prefix}-delete-'", set(), "deleted runs are not listed")
    await expect_rpc_error(
        "deleting a workflow that does not exist",
        client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=closed))
        ),
        RPCStatusCode.NOT_FOUND,
    )
    log("deleted workflows are gone from describe and lists at once")


async def bad_input(client: Client) -> None:
    service = client.workflow_service

    def listing(query: str, namespace: str | None = None):
        return service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=namespace or client.namespace, query=query)
        )

    await expect_rpc_error(
        "malformed query", listing("WorkflowId = 'a' AND"), RPCStatusCode.INVALID_ARGUMENT, "position"
    )
    await expect_rpc_error(
        "unterminated string", listing("WorkflowId = 'abc"), RPCStatusCode.INVALID_ARGUMENT, "position"
    )
    await expect_rpc_error(
        "unknown attribute", listing("NoSuchAttribute = 'x'"), RPCStatusCode.INVALID_ARGUMENT, "NoSuchAttribute"
    )
    await expect_rpc_error(
        "a datetime attribute compared with words", listing("StartTime > 'yesterday'"), RPCStatusCode.INVALID_ARGUMENT, "StartTime"
    )
    await expect_rpc_error(
        "an unknown status", listing("ExecutionStatus = 'Sleeping'"), RPCStatusCode.INVALID_ARGUMENT, "ExecutionStatus"
    )
    await expect_rpc_error(
        "GROUP BY in a list", listing("GROUP BY ExecutionStatus"), RPCStatusCode.INVALID_ARGUMENT, "GROUP BY"
    )
    await expect_rpc_error(
        "an unknown namespace", listing("", namespace=new_id("no-such-namespace")), RPCStatusCode.NOT_FOUND, "namespace"
    )
    log("bad queries are refused with INVALID_ARGUMENT saying what to fix")


async def main(args) -> None:
    client = await connect(args)
    prefix = new_id("visibility")
    task_queue = new_id("visibility-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Finisher, Waiter]):
        await read_your_writes(client, prefix, task_queue)
        await filters(client, prefix, task_queue)
        await deletion(args, client, prefix, task_queue)
    await paging(client, prefix)
    official_cli(args, prefix)
    await bad_input(client)


if __name__ == "__main__":
    run_scenario(main, "listing and counting workflows with the list filter language", timeout=300.0)
