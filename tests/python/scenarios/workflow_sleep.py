"""Scenario 5: workflow.sleep (a durable timer of 2 s).

Correctness, not speed: the workflow must not finish before its timer's
duration has elapsed, then it must finish. Checks: wall-clock time from start
to result >= 2 s; workflow time (workflow.now()) advanced >= 2 s across the
sleep; the history has TimerStarted (start_to_fire_timeout 2 s) and
TimerFired, at least 2 s apart.
"""

import time
from datetime import timedelta

from temporalio import workflow
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, log, new_id, run_scenario, for_worker

TIMER = 2.0


@workflow.defn
class ReminderWorkflow:
    @workflow.run
    async def run(self, text: str) -> dict:
        before = workflow.now()
        await workflow.sleep(timedelta(seconds=TIMER))
        after = workflow.now()
        return {"text": text, "workflow_seconds": (after - before).total_seconds()}


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("timer-tq")
    workflow_id = new_id("timer-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[ReminderWorkflow]):
        started = time.monotonic()
        handle = await client.start_workflow(
            ReminderWorkflow.run, "stretch", id=workflow_id, task_queue=task_queue
        )
        result = await handle.result()
        elapsed = time.monotonic() - started
        log(f"workflow returned {result!r} after {elapsed:.3f}s")
        check_eq(result["text"], "stretch", "workflow result text")
        check(
            elapsed >= TIMER,
            f"workflow finished {elapsed:.3f}s after it was started, before its "
            f"{TIMER}s timer could have fired",
        )
        check(
            result["workflow_seconds"] >= TIMER,
            f"workflow.now() advanced only {result['workflow_seconds']}s across a "
            f"{TIMER}s sleep",
        )

        history = await handle.fetch_history()
        types = event_types(history)
        check_eq(types.count("TimerStarted"), 1, f"TimerStarted events in {types}")
        check_eq(types.count("TimerFired"), 1, f"TimerFired events in {types}")
        timer_started = next(e for e in history.events if e.HasField("timer_started_event_attributes"))
        timer_fired = next(e for e in history.events if e.HasField("timer_fired_event_attributes"))
        check_eq(
            timer_started.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta(),
            timedelta(seconds=TIMER),
            "TimerStarted.start_to_fire_timeout",
        )
        check_eq(
            timer_fired.timer_fired_event_attributes.started_event_id,
            timer_started.event_id,
            "TimerFired.started_event_id",
        )
        server_seconds = (
            timer_fired.event_time.ToDatetime() - timer_started.event_time.ToDatetime()
        ).total_seconds()
        log(f"history: TimerFired {server_seconds:.3f}s after TimerStarted")
        check(
            server_seconds >= TIMER,
            f"TimerFired is only {server_seconds:.3f}s after TimerStarted",
        )


if __name__ == "__main__":
    run_scenario(main, "a 2 s workflow.sleep neither fires early nor hangs")
