"""Robustness: a workflow task that cancels an activity that never started
and completes the workflow in the same completion.

A raw-gRPC worker (the Python SDK drops the cancel when the workflow returns
in the same activation, so it cannot send this sequence) schedules an activity
on a task queue nobody polls; after a signal it completes the next workflow
task with RequestCancelActivityTask followed by CompleteWorkflowExecution. The
history must end with the close event, as Temporal writes it:
WorkflowTaskCompleted, ActivityTaskCancelRequested, WorkflowExecutionCompleted
(the cancellation of the activity, which the workflow will never see, is
dropped with the run; Temper once wrote ActivityTaskCanceled after the close
event). Then an ordinary workflow completes on every shard.
"""

import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    RequestCancelActivityTaskCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
)
from temporalio.api.common.v1 import ActivityType, WorkflowExecution
from temporalio.api.enums.v1 import CommandType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client

from _common import check_eq, connect, event_types, log, new_id, run_scenario
from _raw_worker import complete_workflow_command, complete_workflow_task, poll_workflow_task, start_raw_workflow
from _shards import check_every_shard_serves

async def main(args) -> None:
    client: Client = await connect(args)
    service = client.workflow_service
    task_queue = new_id("close-after-cancel-tq")
    workflow_id = await start_raw_workflow(client, task_queue, "close-after-cancel-wf")
    first = await poll_workflow_task(client, task_queue)
    schedule = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="never-started",
            activity_type=ActivityType(name="NeverRuns"),
            task_queue=TaskQueue(name=new_id("idle-queue")),
            start_to_close_timeout=Duration(seconds=30),
        ),
    )
    await complete_workflow_task(client, first.task_token, [schedule])
    await service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name="finish",
            request_id=str(uuid.uuid4()),
            identity="raw-client",
        )
    )
    second = await poll_workflow_task(client, task_queue)
    scheduled = [e.event_id for e in second.history.events if e.HasField("activity_task_scheduled_event_attributes")]
    check_eq(len(scheduled), 1, "scheduled activities in the history handed out")
    cancel_and_finish = [
        Command(
            command_type=CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
            request_cancel_activity_task_command_attributes=RequestCancelActivityTaskCommandAttributes(
                scheduled_event_id=scheduled[0]
            ),
        ),
        complete_workflow_command(),
    ]
    await complete_workflow_task(client, second.task_token, cancel_and_finish)
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()
    types = event_types(await handle.fetch_history())
    log(f"history: {types}")
    check_eq(
        types[-3:],
        ["WorkflowTaskCompleted", "ActivityTaskCancelRequested", "WorkflowExecutionCompleted"],
        "the last events",
    )
    await check_every_shard_serves(client)


if __name__ == "__main__":
    run_scenario(main, "the close event stays last after cancelling an unstarted activity", timeout=120)
