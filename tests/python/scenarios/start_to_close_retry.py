"""Scenario 3: start-to-close timeout, then a successful retry.

Attempt 1 keeps running past the activity's start_to_close_timeout (1 s): it
waits until attempt 2 has started, which only happens once the server has
timed attempt 1 out. Attempt 2 returns quickly. Checks: the workflow gets
attempt 2's result; attempt 2 started no earlier than the timeout; while
attempt 2 is running, completing the activity with attempt 1's task token is
rejected with NOT_FOUND (a late result from a timed-out attempt must never
win); the history shows one ActivityTaskStarted with attempt 2 whose
last_failure is a START_TO_CLOSE timeout.
"""

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import TimeoutType
from temporalio.api.workflowservice.v1 import RespondActivityTaskCompletedRequest
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, for_worker

START_TO_CLOSE = 1.0


class Run:
    """What the activity attempts of the single workflow of this scenario saw."""

    attempt1_token: bytes | None = None
    attempt1_started: float | None = None
    attempt2_started: float | None = None
    attempt2_seen = asyncio.Event()
    stale_completion_error: BaseException | str | None = "not attempted"
    attempts: list[int] = []


@activity.defn
async def fetch_report(name: str) -> str:
    info = activity.info()
    Run.attempts.append(info.attempt)
    if info.attempt == 1:
        Run.attempt1_token = info.task_token
        Run.attempt1_started = time.monotonic()
        # Keep running well past start_to_close_timeout: the server times this
        # attempt out and schedules attempt 2; we return only after that.
        await asyncio.wait_for(Run.attempt2_seen.wait(), 30)
        return f"stale report {name} from attempt 1"
    Run.attempt2_started = time.monotonic()
    Run.attempt2_seen.set()
    # Attempt 1 is no longer the current attempt: the server must refuse its
    # completion. (The SDK also sends attempt 1's own late completion once it
    # returns; that one is refused too, we just cannot observe it here.)
    try:
        await activity.client().workflow_service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(
                namespace=info.workflow_namespace,
                task_token=Run.attempt1_token,
                identity="scenario-stale-attempt",
            )
        )
        Run.stale_completion_error = None
    except RPCError as err:
        Run.stale_completion_error = err
    return f"report {name} from attempt {info.attempt}"


@workflow.defn
class ReportWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            fetch_report,
            name,
            start_to_close_timeout=timedelta(seconds=START_TO_CLOSE),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=3
            ),
        )


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("start-to-close-tq")
    workflow_id = new_id("start-to-close-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[ReportWorkflow], activities=[fetch_report]
    ):
        handle = await client.start_workflow(
            ReportWorkflow.run, "q3", id=workflow_id, task_queue=task_queue
        )
        result = await handle.result()
        log(f"workflow returned {result!r}")
        check_eq(result, "report q3 from attempt 2", "workflow result")
        check_eq(Run.attempts, [1, 2], "attempts seen by the activity")
        gap = Run.attempt2_started - Run.attempt1_started
        log(f"attempt 2 started {gap:.3f}s after attempt 1")
        check(
            gap >= START_TO_CLOSE - 0.02,
            f"attempt 2 started {gap:.3f}s after attempt 1, before attempt 1's "
            f"{START_TO_CLOSE}s start-to-close timeout could have expired",
        )

        # Temporal: NOT_FOUND, "invalid activityID or activity already timed out or
        # invoking workflow is completed" (details: NotFoundFailure).
        err = Run.stale_completion_error
        check(
            isinstance(err, RPCError),
            f"completing with timed-out attempt 1's task token should fail, got {err!r}",
        )
        log(f"stale completion refused: {err.status.name} {err.message!r}")
        check_eq(err.status, RPCStatusCode.NOT_FOUND, "status of the stale completion")

        history = await handle.fetch_history()
        started = [
            e.activity_task_started_event_attributes
            for e in history.events
            if e.HasField("activity_task_started_event_attributes")
        ]
        check_eq(len(started), 1, "ActivityTaskStarted events")
        check_eq(started[0].attempt, 2, "ActivityTaskStarted.attempt")
        failure = started[0].last_failure
        check(
            failure.HasField("timeout_failure_info"),
            f"last_failure of attempt 2 should be a timeout, got {failure}",
        )
        check_eq(
            TimeoutType.Name(failure.timeout_failure_info.timeout_type),
            "TIMEOUT_TYPE_START_TO_CLOSE",
            "last_failure timeout type",
        )


if __name__ == "__main__":
    run_scenario(main, "start-to-close timeout, then a quick successful retry")
