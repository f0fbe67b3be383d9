"""Scenario 4: heartbeat timeout, with the heartbeat details reaching the retry.

Attempt 1 heartbeats once with a progress detail, then stops heartbeating but
keeps running (it waits until attempt 2 has started). The server times it out
after heartbeat_timeout and retries; attempt 2 must find attempt 1's detail in
activity.info().heartbeat_details and resumes from it. Checks: the workflow
gets attempt 2's result; the history shows one ActivityTaskStarted with
attempt 2 whose last_failure is a HEARTBEAT timeout.
"""

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import TimeoutType
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, for_worker

HEARTBEAT_TIMEOUT = 1.0


class Run:
    attempts: list[int] = []
    details_seen: dict[int, list] = {}
    attempt1_heartbeat_at: float | None = None
    attempt2_started_at: float | None = None
    attempt2_seen = asyncio.Event()


@activity.defn
async def copy_files(batch: str) -> str:
    info = activity.info()
    Run.attempts.append(info.attempt)
    Run.details_seen[info.attempt] = list(info.heartbeat_details)
    if info.attempt == 1:
        activity.heartbeat("copied-42-files")
        Run.attempt1_heartbeat_at = time.monotonic()
        # Hang without heartbeating (but keep running) until the server has given
        # up on this attempt and started attempt 2.
        await asyncio.wait_for(Run.attempt2_seen.wait(), 30)
        return "attempt 1 should never win"
    Run.attempt2_started_at = time.monotonic()
    Run.attempt2_seen.set()
    resumed_from = info.heartbeat_details[0] if info.heartbeat_details else "<nothing>"
    return f"{batch}: resumed from {resumed_from} on attempt {info.attempt}"


@workflow.defn
class CopyWorkflow:
    @workflow.run
    async def run(self, batch: str) -> str:
        return await workflow.execute_activity(
            copy_files,
            batch,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=HEARTBEAT_TIMEOUT),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=3
            ),
        )


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("heartbeat-tq")
    workflow_id = new_id("heartbeat-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[CopyWorkflow], activities=[copy_files]
    ):
        handle = await client.start_workflow(
            CopyWorkflow.run, "batch-7", id=workflow_id, task_queue=task_queue
        )
        result = await handle.result()
        log(f"workflow returned {result!r}")
        check_eq(Run.attempts, [1, 2], "attempts seen by the activity")
        check_eq(Run.details_seen.get(1), [], "heartbeat details seen by attempt 1")
        check_eq(
            Run.details_seen.get(2),
            ["copied-42-files"],
            "heartbeat details seen by attempt 2 (attempt 1's last heartbeat)",
        )
        check_eq(
            result, "batch-7: resumed from copied-42-files on attempt 2", "workflow result"
        )
        silence = Run.attempt2_started_at - Run.attempt1_heartbeat_at
        log(f"attempt 2 started {silence:.3f}s after attempt 1's only heartbeat")
        check(
            silence >= HEARTBEAT_TIMEOUT - 0.02,
            f"attempt 2 started {silence:.3f}s after attempt 1's heartbeat, before the "
            f"{HEARTBEAT_TIMEOUT}s heartbeat timeout could have expired",
        )

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
            "TIMEOUT_TYPE_HEARTBEAT",
            "last_failure timeout type",
        )


if __name__ == "__main__":
    run_scenario(main, "heartbeat timeout; the retry sees the last heartbeat details")
