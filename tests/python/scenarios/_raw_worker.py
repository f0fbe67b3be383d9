"""A worker made of raw gRPC calls, for scenarios that must send what no SDK
sends (over-long ids, a cancel and a close in one completion, a sticky queue
nobody polls). Plumbing only: each scenario says which commands it sends."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.command.v1 import Command, CompleteWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client

from _common import check, new_id

POLL_TIMEOUT = timedelta(seconds=30)
IDENTITY = "raw-worker"


async def start_raw_workflow(client: Client, task_queue: str, prefix: str) -> str:
    """Starts a workflow of type RawWorkflow on `task_queue`; returns its id."""
    workflow_id = new_id(prefix)
    await client.workflow_service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name="RawWorkflow"),
            task_queue=TaskQueue(name=task_queue),
            request_id=str(uuid.uuid4()),
            identity="raw-client",
        )
    )
    return workflow_id


async def poll_workflow_task(client: Client, task_queue: str) -> PollWorkflowTaskQueueResponse:
    """The next workflow task of `task_queue`; fails if none comes in time."""
    response = await client.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue), identity=IDENTITY),
        timeout=POLL_TIMEOUT,
    )
    check(response.task_token, f"no workflow task on {task_queue} within {POLL_TIMEOUT}")
    return response


async def complete_workflow_task(
    client: Client,
    task_token: bytes,
    commands: list[Command],
    sticky_attributes: StickyExecutionAttributes | None = None,
) -> None:
    await client.workflow_service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace,
            task_token=task_token,
            commands=commands,
            identity=IDENTITY,
            sticky_attributes=sticky_attributes,
        )
    )


def complete_workflow_command() -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(),
    )
