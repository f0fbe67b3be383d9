"""Robustness: workflow-task commands with ids no store key can hold.

A worker (raw gRPC here, as a buggy or hostile SDK would) completes a workflow
task with a StartTimer whose timer id is 70,000 characters, then with a
ScheduleActivityTask whose activity id is, then with a RecordMarker whose
marker name is. Each completion is refused with INVALID_ARGUMENT and the
workflow task fails with the command's cause (as Temporal does:
BAD_START_TIMER_ATTRIBUTES, BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
BAD_RECORD_MARKER_ATTRIBUTES); the next attempt completes the workflow, and an
ordinary workflow then completes on every shard.
"""

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    RecordMarkerCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from _common import check_eq, connect, log, new_id, run_scenario
from _raw_worker import complete_workflow_command, complete_workflow_task, poll_workflow_task, start_raw_workflow
from _shards import check_every_shard_serves

HUGE = "x" * 70_000


def bad_commands() -> list[tuple[str, Command, int]]:
    return [
        (
            "StartTimer with a 70,000-character timer id",
            Command(
                command_type=CommandType.COMMAND_TYPE_START_TIMER,
                start_timer_command_attributes=StartTimerCommandAttributes(
                    timer_id=HUGE, start_to_fire_timeout=Duration(seconds=1)
                ),
            ),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
        ),
        (
            "ScheduleActivityTask with a 70,000-character activity id",
            Command(
                command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
                schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
                    activity_id=HUGE,
                    activity_type=ActivityType(name="Act"),
                    task_queue=TaskQueue(name="somewhere"),
                    start_to_close_timeout=Duration(seconds=10),
                ),
            ),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
        ),
        (
            "RecordMarker with a 70,000-character marker name",
            Command(
                command_type=CommandType.COMMAND_TYPE_RECORD_MARKER,
                record_marker_command_attributes=RecordMarkerCommandAttributes(marker_name=HUGE),
            ),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
        ),
    ]


async def refused_then_completed(client: Client, what: str, command: Command, cause: int) -> None:
    """The bad completion is refused and fails the task; the retry completes."""
    task_queue = new_id("bad-commands-tq")
    workflow_id = await start_raw_workflow(client, task_queue, "bad-commands-wf")
    task = await poll_workflow_task(client, task_queue)
    try:
        await complete_workflow_task(client, task.task_token, [command])
    except RPCError as err:
        log(f"{what}: {err.status.name} {err.message[:200]!r}")
        check_eq(err.status, RPCStatusCode.INVALID_ARGUMENT, f"{what}: status")
    else:
        raise AssertionError(f"{what}: the completion was accepted")
    handle = client.get_workflow_handle(workflow_id)
    failed = [e for e in (await handle.fetch_history()).events if e.HasField("workflow_task_failed_event_attributes")]
    check_eq(len(failed), 1, f"{what}: WorkflowTaskFailed events")
    check_eq(failed[0].workflow_task_failed_event_attributes.cause, cause, f"{what}: failure cause")
    retry = await poll_workflow_task(client, task_queue)
    check_eq(retry.attempt, 2, f"{what}: attempt of the retried workflow task")
    await complete_workflow_task(client, retry.task_token, [complete_workflow_command()])
    await handle.result()


async def main(args) -> None:
    client: Client = await connect(args)
    for what, command, cause in bad_commands():
        await refused_then_completed(client, what, command, cause)
    log("each refused completion failed its task, and the retry completed the workflow")
    await check_every_shard_serves(client)


if __name__ == "__main__":
    run_scenario(main, "workflow-task commands with over-long ids fail the task, not the shard", timeout=120)
