"""Robustness: ResetStickyTaskQueue while a workflow task waits on the sticky queue.

A raw-gRPC worker completes the first workflow task asking for its next tasks
on a sticky queue it will never poll; a signal then schedules a workflow task
there. ResetStickyTaskQueue (what an SDK sends when the worker's cache evicts
the run) must not strand that task: a poll of the normal task queue gets it,
with the full history including the signal. (Temper moves it at once; a
server may instead wait for the sticky schedule-to-start timeout, 5 s here,
so the poll may take that long.) Then an ordinary workflow completes on every
shard.
"""

import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest, SignalWorkflowExecutionRequest
from temporalio.client import Client

from _common import check, check_eq, connect, log, new_id, run_scenario
from _raw_worker import complete_workflow_command, complete_workflow_task, poll_workflow_task, start_raw_workflow
from _shards import check_every_shard_serves


async def main(args) -> None:
    client: Client = await connect(args)
    service = client.workflow_service
    task_queue = new_id("reset-sticky-tq")
    sticky_queue = new_id("reset-sticky-worker-queue")
    workflow_id = await start_raw_workflow(client, task_queue, "reset-sticky-wf")
    execution = WorkflowExecution(workflow_id=workflow_id)
    first = await poll_workflow_task(client, task_queue)
    sticky = StickyExecutionAttributes(
        worker_task_queue=TaskQueue(name=sticky_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=task_queue),
        schedule_to_start_timeout=Duration(seconds=5),
    )
    await complete_workflow_task(client, first.task_token, [], sticky_attributes=sticky)
    await service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=execution,
            signal_name="wake-up",
            request_id=str(uuid.uuid4()),
            identity="raw-client",
        )
    )
    await service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(namespace=client.namespace, execution=execution)
    )
    log("the sticky queue was reset while a workflow task waited on it")

    task = await poll_workflow_task(client, task_queue)
    types = [event.event_type for event in task.history.events]
    check_eq(task.history.events[0].event_id, 1, "the normal-queue task carries the full history")
    check(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in types,
        f"the signal is in the history handed out: {types}",
    )
    await complete_workflow_task(client, task.task_token, [complete_workflow_command()])
    await client.get_workflow_handle(workflow_id).result()
    log("the workflow completed from the normal queue")
    await check_every_shard_serves(client)


if __name__ == "__main__":
    run_scenario(main, "reset of a sticky queue with a waiting task strands nothing", timeout=120)
