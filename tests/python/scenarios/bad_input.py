"""Scenario 13: bad input gets clear gRPC errors, and the server keeps working.

Raw gRPC calls through client.workflow_service, each well-formed except for
one thing; each must fail with the status code Temporal uses (checked on
temporalio.service.RPCError.status) and a non-empty message:

  - StartWorkflowExecution with an empty workflow id    -> INVALID_ARGUMENT
  - DescribeNamespace / StartWorkflowExecution in an
    unknown namespace                                    -> NOT_FOUND
  - RespondActivityTaskCompleted with a garbage token   -> INVALID_ARGUMENT
  - StartWorkflowExecution with a payload over 2 MiB
    (the default blob size limit)                        -> INVALID_ARGUMENT
  - DescribeWorkflowExecution of an unknown workflow     -> NOT_FOUND

Temporal's exact messages are recorded next to each case. We assert on status
codes; on message content only that it names the thing that was not found;
and on the machine-readable error details (google.rpc.Status details) where
SDKs use them to pick an error type. Then a 1 MiB payload (under the limit)
is accepted and a normal hello-activity workflow still succeeds.
"""

import uuid

from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    RespondActivityTaskCompletedRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from hello_activity import GreetingWorkflow, compose_greeting
from _common import check, check_eq, connect, expect_rpc_error, log, new_id, run_scenario, for_worker

BLOB_SIZE_LIMIT = 2 * 1024 * 1024


def start_request(namespace: str, **overrides) -> StartWorkflowExecutionRequest:
    """A valid StartWorkflowExecutionRequest, except for `overrides`."""
    fields = dict(
        namespace=namespace,
        workflow_id=new_id("bad-input-wf"),
        workflow_type=WorkflowType(name="GreetingWorkflow"),
        task_queue=TaskQueue(name=new_id("bad-input-no-worker-tq")),
        request_id=str(uuid.uuid4()),
        identity="bad-input-scenario",
    )
    fields.update(overrides)
    return StartWorkflowExecutionRequest(**fields)


def binary_payloads(size: int) -> Payloads:
    return Payloads(
        payloads=[Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * size)]
    )


async def main(args) -> None:
    client: Client = await connect(args)
    service = client.workflow_service
    namespace = args.namespace

    # Temporal: INVALID_ARGUMENT "WorkflowId is not set on request."
    await expect_rpc_error(
        "StartWorkflowExecution with an empty workflow id",
        service.start_workflow_execution(start_request(namespace, workflow_id="")),
        RPCStatusCode.INVALID_ARGUMENT,
    )

    # Temporal: NOT_FOUND "Namespace <name> is not found."
    # details: temporal.api.errordetails.v1.NamespaceNotFoundFailure
    unknown_namespace = new_id("no-such-namespace")
    await expect_rpc_error(
        "DescribeNamespace of an unknown namespace",
        service.describe_namespace(DescribeNamespaceRequest(namespace=unknown_namespace)),
        RPCStatusCode.NOT_FOUND,
        message_mentions=unknown_namespace,
        detail_type="temporal.api.errordetails.v1.NamespaceNotFoundFailure",
    )
    await expect_rpc_error(
        "StartWorkflowExecution in an unknown namespace",
        service.start_workflow_execution(start_request(unknown_namespace)),
        RPCStatusCode.NOT_FOUND,
        message_mentions=unknown_namespace,
        detail_type="temporal.api.errordetails.v1.NamespaceNotFoundFailure",
    )

    # Temporal: INVALID_ARGUMENT "Error deserializing task token."
    # (An empty token gives INVALID_ARGUMENT "Task token not set on request.")
    await expect_rpc_error(
        "RespondActivityTaskCompleted with a garbage task token",
        service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(
                namespace=namespace,
                task_token=b"\x00garbage, not a task token\xff",
                identity="bad-input-scenario",
            )
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )

    # Temporal: INVALID_ARGUMENT "Blob data size exceeds limit."
    # (Above 4 MiB the whole gRPC message is refused before that check:
    # RESOURCE_EXHAUSTED "grpc: received message after decompression larger
    # than max 4194304".)
    await expect_rpc_error(
        "StartWorkflowExecution with a payload over 2 MiB",
        service.start_workflow_execution(
            start_request(namespace, input=binary_payloads(BLOB_SIZE_LIMIT + 1))
        ),
        RPCStatusCode.INVALID_ARGUMENT,
    )

    # Temporal: NOT_FOUND "workflow not found for ID: <id>"
    # details: temporal.api.errordetails.v1.NotFoundFailure
    # (With a run id: 'workflow execution not found for workflow ID "<id>" and
    # run ID "<run id>"'; a malformed run id is INVALID_ARGUMENT "Invalid RunId.")
    unknown_workflow = new_id("no-such-workflow")
    await expect_rpc_error(
        "DescribeWorkflowExecution of an unknown workflow",
        service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=namespace, execution=WorkflowExecution(workflow_id=unknown_workflow)
            )
        ),
        RPCStatusCode.NOT_FOUND,
        message_mentions=unknown_workflow,
    )

    # A payload under the limit is fine (nobody polls its task queue; clean up).
    ok_request = start_request(namespace, input=binary_payloads(1024 * 1024))
    ok_response = await service.start_workflow_execution(ok_request)
    check(ok_response.run_id, "start with a 1 MiB payload returned no run id")
    await service.terminate_workflow_execution(
        TerminateWorkflowExecutionRequest(
            namespace=namespace,
            workflow_execution=WorkflowExecution(
                workflow_id=ok_request.workflow_id, run_id=ok_response.run_id
            ),
            reason="bad-input scenario cleanup",
        )
    )
    log("a 1 MiB payload was accepted")

    # After all that, the server still serves a normal workflow.
    task_queue = new_id("bad-input-tq")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[GreetingWorkflow], activities=[compose_greeting]
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run, "World", id=new_id("bad-input-hello-wf"), task_queue=task_queue
        )
    check_eq(result, "Hello, World!", "hello-activity result after the bad requests")
    log(f"hello-activity workflow still works: {result!r}")


if __name__ == "__main__":
    run_scenario(main, "bad requests get clear gRPC errors; the server keeps working")
