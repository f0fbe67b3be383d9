"""A namespace's retention deletes its closed workflows, through the SDK.

In a namespace registered with a 2 s retention, a completed workflow is
described and listed as completed; once its retention has passed it is gone
from both (NOT_FOUND, and no longer listed or counted), while a workflow
still running in the same namespace stays. Needs a server that accepts so
short a retention (Temper's `--min-namespace-retention 1s`; Temporal's
minimum is a day).
"""

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from _short_workflows import Quick, WaitsForever
from _common import check_eq, connect, log, new_id, run_scenario, wait_for

RETENTION_SECONDS = 2


async def main(args) -> None:
    client = await connect(args)
    namespace = new_id("short-retention")
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=namespace, workflow_execution_retention_period=Duration(seconds=RETENTION_SECONDS),
    ))
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    check_eq(described.config.workflow_execution_retention_ttl.seconds, RETENTION_SECONDS, "the namespace's retention")
    in_namespace = await Client.connect(args.worker_address or args.address, namespace=namespace)
    task_queue = new_id("retention-tq")
    async with Worker(in_namespace, task_queue=task_queue, workflows=[Quick, WaitsForever]):
        finished = await in_namespace.start_workflow("Quick", id=new_id("finished"), task_queue=task_queue)
        check_eq(await finished.result(), "done", "the finished workflow's result")
        running = await in_namespace.start_workflow("WaitsForever", id=new_id("running"), task_queue=task_queue)
        check_eq((await finished.describe()).status, WorkflowExecutionStatus.COMPLETED, "status before retention")
        mine = f"WorkflowId = '{finished.id}'"
        check_eq([w.id async for w in in_namespace.list_workflows(mine)], [finished.id], "listed before retention")

        async def deleted() -> bool:
            try:
                await finished.describe()
            except RPCError as err:
                check_eq(err.status, RPCStatusCode.NOT_FOUND, "describing a run past its retention")
                return True
            return False

        await wait_for(deleted, "the completed run to be deleted by retention", timeout=30, interval=0.5)
        check_eq([w.id async for w in in_namespace.list_workflows(mine)], [], "listed after retention")
        check_eq((await in_namespace.count_workflows(mine)).count, 0, "counted after retention")
        check_eq((await running.describe()).status, WorkflowExecutionStatus.RUNNING, "a running workflow stays")
        log(f"{finished.id}: deleted {RETENTION_SECONDS} s after it closed; {running.id} still running")
        await running.terminate("retention checked")


if __name__ == "__main__":
    run_scenario(main, "retention deletes closed workflows")
