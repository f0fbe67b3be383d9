"""Namespace updates and deprecation.

A namespace registered with a description, owner, data and retention is
updated through UpdateNamespace: the new description and retention replace
the old, data is merged key by key, and DescribeNamespace and
ListNamespaces show the result. A retention below the server's minimum and
features Temper does not have (archival) are refused naming what is wrong.
The official CLI updates the namespace too (`temporal operator namespace
update`). A deprecated namespace is described as such and refuses new runs
with FAILED_PRECONDITION (NamespaceInvalidStateFailure), as Temporal's does,
while it can still be described. Run against Temporal
(TEMPER_TEST_AGAINST_TEMPORAL=1), enabling archival is accepted (its dev
server ignores it) where Temper refuses it.
"""

import os
import subprocess
import sys

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import ArchivalState, NamespaceState
from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
from temporalio.api.workflowservice.v1 import (
    DeprecateNamespaceRequest,
    DescribeNamespaceRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from _common import check, check_eq, connect, expect_rpc_error, log, new_id, run_scenario, wait_for

DAY = 24 * 3600
AGAINST_TEMPORAL = os.environ.get("TEMPER_TEST_AGAINST_TEMPORAL", "") not in ("", "0", "false")


async def main(args) -> None:
    client = await connect(args)
    service = client.workflow_service
    namespace = new_id("updated-ns")
    await service.register_namespace(RegisterNamespaceRequest(
        namespace=namespace,
        description="first",
        owner_email="owner@example.com",
        data={"team": "payments", "tier": "silver"},
        workflow_execution_retention_period=Duration(seconds=2 * DAY),
    ))

    updated = await service.update_namespace(UpdateNamespaceRequest(
        namespace=namespace,
        update_info=UpdateNamespaceInfo(description="second", data={"tier": "gold", "region": "eu"}),
        config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=3 * DAY)),
    ))
    check_eq(updated.namespace_info.description, "second", "the update's answer: description")
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    info, config = described.namespace_info, described.config
    check_eq(info.description, "second", "description after the update")
    check_eq(info.owner_email, "owner@example.com", "an owner the update leaves unset is kept")
    check_eq(dict(info.data), {"team": "payments", "tier": "gold", "region": "eu"}, "data merged key by key")
    check_eq(config.workflow_execution_retention_ttl.seconds, 3 * DAY, "retention after the update")
    check_eq(info.state, NamespaceState.NAMESPACE_STATE_REGISTERED, "state after the update")
    listed = await service.list_namespaces(ListNamespacesRequest())
    mine = [ns for ns in listed.namespaces if ns.namespace_info.name == namespace]
    check_eq([ns.namespace_info.description for ns in mine], ["second"], "ListNamespaces shows the update")
    log(f"{namespace}: description, data and retention updated")

    await expect_rpc_error(
        "a retention below the minimum",
        service.update_namespace(UpdateNamespaceRequest(
            namespace=namespace, config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=60)),
        )),
        RPCStatusCode.INVALID_ARGUMENT,
        "retention",
    )
    enable_archival = service.update_namespace(UpdateNamespaceRequest(
        namespace=namespace,
        config=NamespaceConfig(history_archival_state=ArchivalState.ARCHIVAL_STATE_ENABLED, history_archival_uri="file:///tmp"),
    ))
    if AGAINST_TEMPORAL:
        # Temporal's dev server has no archival configured and ignores it.
        await enable_archival
    else:
        # Temper refuses what it cannot do rather than ignore it.
        await expect_rpc_error("enabling archival", enable_archival, RPCStatusCode.UNIMPLEMENTED, "HistoryArchivalState")
    await expect_rpc_error(
        "updating a namespace that does not exist",
        service.update_namespace(UpdateNamespaceRequest(
            namespace=new_id("missing-ns"), update_info=UpdateNamespaceInfo(description="x"),
        )),
        RPCStatusCode.NOT_FOUND,
        "not found",
    )

    cli = os.path.join(os.path.dirname(sys.executable), "temporal")
    done = subprocess.run(
        [cli, "operator", "namespace", "update", "--namespace", namespace, "--description", "by the CLI",
         "--retention", "96h", "--address", args.address],
        capture_output=True, text=True, timeout=60,
    )
    check(done.returncode == 0, f"temporal operator namespace update failed: {done.stdout} {done.stderr}")
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    check_eq(described.namespace_info.description, "by the CLI", "description after the CLI's update")
    check_eq(described.config.workflow_execution_retention_ttl.seconds, 4 * DAY, "retention after the CLI's update")
    check_eq(dict(described.namespace_info.data)["tier"], "gold", "data the CLI did not name is kept")
    log(f"{namespace}: updated by the CLI")

    await service.deprecate_namespace(DeprecateNamespaceRequest(namespace=namespace))
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    check_eq(described.namespace_info.state, NamespaceState.NAMESPACE_STATE_DEPRECATED, "state after DeprecateNamespace")
    in_deprecated = await Client.connect(args.address, namespace=namespace)

    async def start_refused() -> bool:
        # Temporal's frontends see a namespace change when their registry
        # refreshes (within seconds); Temper's gateway that made it, at once.
        try:
            started = await in_deprecated.start_workflow("Anything", id=new_id("late"), task_queue=new_id("late-tq"))
        except RPCError as err:
            details = [d.type_url.rsplit(".", 1)[-1] for d in err.grpc_status.details]
            log(f"starting a workflow in a deprecated namespace: {err.status.name} {err.message!r} details={details}")
            check_eq(err.status, RPCStatusCode.FAILED_PRECONDITION, "status of a start in a deprecated namespace")
            check("Deprecated" in err.message, f"the message names the state: {err.message!r}")
            check_eq(details, ["NamespaceInvalidStateFailure"], "error details")
            return True
        await started.terminate("the namespace's deprecation was not seen yet")
        return False

    await wait_for(start_refused, "starts in the deprecated namespace to be refused", timeout=30, interval=1)
    await expect_rpc_error(
        "moving a deprecated namespace back to registered",
        service.update_namespace(UpdateNamespaceRequest(
            namespace=namespace, update_info=UpdateNamespaceInfo(state=NamespaceState.NAMESPACE_STATE_REGISTERED),
        )),
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid namespace state update",
    )
    log(f"{namespace}: deprecated, and refuses new runs")


if __name__ == "__main__":
    run_scenario(main, "namespace updates and deprecation")
