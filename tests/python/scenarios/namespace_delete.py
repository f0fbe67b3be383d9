"""Deleting a namespace (OperatorService.DeleteNamespace), as Temporal does.

A namespace with a completed and a running workflow is deleted: the answer
names the namespace's new name, `<name>-deleted-<first 5 characters of its
id>`, which DescribeNamespace shows as DELETED with the same id, while the
old name is not found any more and is free to register again (a new
namespace, with none of the old runs). Calls naming the deleted namespace
are refused. Asking again answers the same new name. The runs are deleted
in the background, the running one terminated first, and once none is left
the namespace itself goes: its new name is not found either. The official
CLI deletes a namespace too (`temporal operator namespace delete`). A
namespace that does not exist is NOT_FOUND; a request naming both a name
and an id or neither, and a negative delay, are refused with
INVALID_ARGUMENT. Run against Temporal (TEMPER_TEST_AGAINST_TEMPORAL=1),
it passes too.
"""

import os
import subprocess
import sys

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import NamespaceState
from temporalio.api.operatorservice.v1 import DeleteNamespaceRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from _short_workflows import Quick, WaitsForever
from _common import check, check_eq, connect, expect_rpc_error, log, new_id, run_scenario, wait_for

DAY = 24 * 3600
AGAINST_TEMPORAL = os.environ.get("TEMPER_TEST_AGAINST_TEMPORAL", "") not in ("", "0", "false")
# Temper reclaims within seconds of its namespace cache's 10 s lifetime;
# Temporal's reclaim workflow took 35 s on its dev server.
RECLAIM_TIMEOUT = 600 if AGAINST_TEMPORAL else 60


async def register(client: Client, namespace: str) -> str:
    service = client.workflow_service
    await service.register_namespace(RegisterNamespaceRequest(
        namespace=namespace, workflow_execution_retention_period=Duration(seconds=DAY),
    ))
    # Temporal's frontends see a new namespace when their registry refreshes.
    await wait_for(lambda: is_found(client, namespace), f"{namespace} to be registered", timeout=30, interval=0.5)
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    return described.namespace_info.id


async def with_runs(args, namespace: str) -> None:
    """A completed run and a running one in `namespace`."""
    address = args.worker_address or args.address
    in_namespace = await Client.connect(address, namespace=namespace)
    task_queue = new_id("delete-ns-tq")
    async with Worker(in_namespace, task_queue=task_queue, workflows=[Quick, WaitsForever]):
        result = await in_namespace.execute_workflow("Quick", id=new_id("quick"), task_queue=task_queue)
        check_eq(result, "done", "the completed run's result")
        await in_namespace.start_workflow("WaitsForever", id=new_id("waits"), task_queue=task_queue)
        listed = [execution async for execution in in_namespace.list_workflows()]
        check_eq(len(listed), 2, "runs listed before the delete")


async def is_found(client: Client, namespace: str) -> bool:
    return not await not_found(client, namespace)


async def not_found(client: Client, namespace: str) -> bool:
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as err:
        check_eq(err.status, RPCStatusCode.NOT_FOUND, f"describing {namespace}")
        return True
    return False


async def main(args) -> None:
    client = await connect(args)
    operator = client.operator_service
    service = client.workflow_service
    namespace = new_id("doomed-ns")
    namespace_id = await register(client, namespace)
    await with_runs(args, namespace)

    deleted = await operator.delete_namespace(DeleteNamespaceRequest(namespace=namespace))
    deleted_name = f"{namespace}-deleted-{namespace_id[:5]}"
    check_eq(deleted.deleted_namespace, deleted_name, "the deleted namespace's new name")
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=deleted_name))
    check_eq(described.namespace_info.state, NamespaceState.NAMESPACE_STATE_DELETED, "state under the new name")
    check_eq(described.namespace_info.id, namespace_id, "id under the new name")
    check(await not_found(client, namespace), "the old name is not found once deleted")
    log(f"{namespace}: deleted, now {deleted_name}")

    in_deleted = await Client.connect(args.address, namespace=deleted_name)
    await expect_rpc_error(
        "listing runs of a deleted namespace",
        in_deleted.count_workflows(),
        RPCStatusCode.FAILED_PRECONDITION,
        "Deleted",
    )
    again = await operator.delete_namespace(DeleteNamespaceRequest(namespace=deleted_name))
    check_eq(again.deleted_namespace, deleted_name, "deleting the deleted namespace again")

    new_id_of_name = await register(client, namespace)
    check(new_id_of_name != namespace_id, "the freed name is registered as a new namespace")
    reborn = await Client.connect(args.address, namespace=namespace)
    counts: list[int] = []

    async def counted() -> bool:
        # Temporal's frontends may still hold the old name as not found.
        try:
            counts.append((await reborn.count_workflows()).count)
            return True
        except RPCError as err:
            check_eq(err.status, RPCStatusCode.NOT_FOUND, "counting runs of the registered-again namespace")
            return False

    await wait_for(counted, f"{namespace} to be counted", timeout=30, interval=0.5)
    check_eq(counts, [0], "runs of the new namespace with the old name")
    log(f"{namespace}: registered again, as {new_id_of_name}")

    # Its runs are deleted in the background; then the namespace goes.
    await wait_for(lambda: not_found(client, deleted_name), f"{deleted_name} to be reclaimed", timeout=RECLAIM_TIMEOUT, interval=1)
    log(f"{deleted_name}: its runs and then the namespace reclaimed")

    by_cli = new_id("cli-doomed-ns")
    await register(client, by_cli)
    cli = os.path.join(os.path.dirname(sys.executable), "temporal")
    done = subprocess.run(
        [cli, "operator", "namespace", "delete", "--namespace", by_cli, "--yes", "--address", args.address],
        capture_output=True, text=True, timeout=60,
    )
    check(done.returncode == 0, f"temporal operator namespace delete failed: {done.stdout} {done.stderr}")
    check(f"Namespace {by_cli} has been deleted" in done.stdout, f"the CLI reports the delete: {done.stdout!r}")
    check(await not_found(client, by_cli), "a namespace deleted by the CLI is not found by its name")
    log(f"{by_cli}: deleted by the CLI")

    missing = new_id("missing-ns")
    await expect_rpc_error(
        "deleting a namespace that does not exist",
        operator.delete_namespace(DeleteNamespaceRequest(namespace=missing)),
        RPCStatusCode.NOT_FOUND,
        missing,
        "temporal.api.errordetails.v1.NamespaceNotFoundFailure",
    )
    await expect_rpc_error(
        "deleting by name and id at once",
        operator.delete_namespace(DeleteNamespaceRequest(namespace=namespace, namespace_id=new_id_of_name)),
        RPCStatusCode.INVALID_ARGUMENT,
        "only one of namespace or namespace ID",
    )
    await expect_rpc_error(
        "deleting without naming a namespace",
        operator.delete_namespace(DeleteNamespaceRequest()),
        RPCStatusCode.INVALID_ARGUMENT,
        "namespace or namespace ID is required",
    )
    await expect_rpc_error(
        "deleting with a negative delay",
        operator.delete_namespace(DeleteNamespaceRequest(namespace=namespace, namespace_delete_delay=Duration(seconds=-5))),
        RPCStatusCode.INVALID_ARGUMENT,
        "NamespaceDeleteDelay",
    )


if __name__ == "__main__":
    run_scenario(main, "deleting a namespace", timeout=RECLAIM_TIMEOUT + 60)
