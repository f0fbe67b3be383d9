"""Scenario 2: an activity fails twice, then succeeds.

The activity raises a (retryable) ApplicationError on attempts 1 and 2 and
returns on attempt 3. Checks: the workflow gets attempt 3's result; the
activity saw attempts 1, 2, 3 (activity.info().attempt); the server applied
the retry policy's exponential backoff (initial_interval 0.2 s, coefficient 5,
so 0.2 s before attempt 2 and 1 s before attempt 3: no attempt starts early,
and the server's current_attempt_scheduled_time for each retry is the failure
time plus that backoff, not the default policy's 1 s / 2 s); the history
records a single ActivityTaskStarted with attempt 3 and attempt 2's failure.

(Temporal's dev server computes current_attempt_scheduled_time exactly, but
then often dispatches a short retry up to ~1 s later than that; only "not
earlier" is checked on the actual start.)
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, for_worker

INITIAL_INTERVAL = 0.2
BACKOFF_COEFFICIENT = 5.0
# How much later than "failure + backoff" the server may schedule the next
# attempt (covers the failure RPC's own latency). Small enough to tell the
# policy's 0.2 s / 1 s from the default policy's 1 s / 2 s.
SCHEDULING_SLACK = 0.6


@dataclass
class Attempt:
    attempt: int
    started: datetime  # worker clock, when the attempt began running
    ended: datetime  # worker clock, just before it raised / returned
    current_attempt_scheduled_time: datetime  # computed by the server


# Attempts seen by the activity, per workflow id (activities run in this process).
ATTEMPTS: dict[str, list[Attempt]] = {}


@activity.defn
async def flaky_charge(order: str) -> str:
    started = datetime.now(timezone.utc)
    info = activity.info()
    outcome = (
        f"charged {order} on attempt {info.attempt}"
        if info.attempt >= 3
        else None
    )
    ATTEMPTS.setdefault(info.workflow_id, []).append(
        Attempt(
            info.attempt,
            started,
            datetime.now(timezone.utc),
            info.current_attempt_scheduled_time,
        )
    )
    if outcome is None:
        raise ApplicationError(f"payment backend unavailable (attempt {info.attempt})")
    return outcome


@workflow.defn
class ChargeWorkflow:
    @workflow.run
    async def run(self, order: str) -> str:
        return await workflow.execute_activity(
            flaky_charge,
            order,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=INITIAL_INTERVAL),
                backoff_coefficient=BACKOFF_COEFFICIENT,
                maximum_interval=timedelta(seconds=10),
                maximum_attempts=5,
            ),
        )


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("activity-retry-tq")
    workflow_id = new_id("activity-retry-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[ChargeWorkflow], activities=[flaky_charge]
    ):
        handle = await client.start_workflow(
            ChargeWorkflow.run, "order-17", id=workflow_id, task_queue=task_queue
        )
        result = await handle.result()
        log(f"workflow returned {result!r}")
        check_eq(result, "charged order-17 on attempt 3", "workflow result")

        attempts = ATTEMPTS.get(workflow_id, [])
        check_eq([a.attempt for a in attempts], [1, 2, 3], "attempts seen by the activity")
        for previous, current in zip(attempts, attempts[1:]):
            backoff = INITIAL_INTERVAL * BACKOFF_COEFFICIENT ** (previous.attempt - 1)
            waited = (current.started - previous.ended).total_seconds()
            scheduled_after = (
                current.current_attempt_scheduled_time - previous.ended
            ).total_seconds()
            log(
                f"attempt {current.attempt}: started {waited:.3f}s after attempt "
                f"{previous.attempt} failed; server scheduled it {scheduled_after:.3f}s "
                f"after the failure (policy backoff {backoff:.3f}s)"
            )
            # The server must not run the retry before the backoff has elapsed.
            check(
                waited >= backoff - 0.02,
                f"attempt {current.attempt} started {waited:.3f}s after attempt "
                f"{previous.attempt} failed, before the {backoff}s backoff elapsed",
            )
            # The server reports when it scheduled this attempt: failure time plus
            # the backoff computed from the workflow's retry policy.
            check(
                backoff - 0.02 <= scheduled_after <= backoff + SCHEDULING_SLACK,
                f"attempt {current.attempt}: current_attempt_scheduled_time is "
                f"{scheduled_after:.3f}s after attempt {previous.attempt} failed; "
                f"expected the policy's backoff of {backoff}s "
                f"(+ at most {SCHEDULING_SLACK}s)",
            )

        # Retries are not separate history events: one ActivityTaskStarted for the
        # final attempt, carrying the previous attempt's failure.
        history = await handle.fetch_history()
        started = [
            e.activity_task_started_event_attributes
            for e in history.events
            if e.HasField("activity_task_started_event_attributes")
        ]
        check_eq(len(started), 1, "ActivityTaskStarted events")
        check_eq(started[0].attempt, 3, "ActivityTaskStarted.attempt")
        check_eq(
            started[0].last_failure.message,
            "payment backend unavailable (attempt 2)",
            "ActivityTaskStarted.last_failure.message",
        )


if __name__ == "__main__":
    run_scenario(main, "an activity fails twice, then succeeds on attempt 3")
