"""Start delay: the first workflow task waits for the delay.

A workflow started with a 2 s start delay: describe shows it running with an
execution time 2 s after its start; the started event records the backoff;
the first workflow task is scheduled no earlier than 2 s after the start; a
signal sent during the delay is delivered when the workflow starts.
"""

import time
from datetime import timedelta

from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from _common import check, check_eq, connect, log, new_id, run_scenario, for_worker

DELAY = timedelta(seconds=2)


@workflow.defn
class DelayedWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, name: str) -> dict:
        await workflow.sleep(0.1)
        return {"name": name, "signals": self.signals}

    @workflow.signal
    def note(self, text: str) -> None:
        self.signals.append(text)


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("delay-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[DelayedWorkflow]):
        started = time.monotonic()
        handle = await client.start_workflow(
            DelayedWorkflow.run, "late", id=new_id("delay-wf"), task_queue=task_queue, start_delay=DELAY
        )
        description = await handle.describe()
        check_eq(description.status, WorkflowExecutionStatus.RUNNING, "status during the delay")
        check_eq(description.execution_time - description.start_time, DELAY, "execution time - start time")
        await handle.signal(DelayedWorkflow.note, "sent during the delay")
        result = await handle.result()
        elapsed = time.monotonic() - started
        check_eq(result, {"name": "late", "signals": ["sent during the delay"]}, "result")
        check(elapsed >= DELAY.total_seconds(), f"finished {elapsed:.2f}s after start, before the delay ended")
        history = await handle.fetch_history()
        started_event = history.events[0]
        check_eq(
            started_event.workflow_execution_started_event_attributes.first_workflow_task_backoff.ToTimedelta(),
            DELAY,
            "first_workflow_task_backoff",
        )
        first_task = next(e for e in history.events if e.HasField("workflow_task_scheduled_event_attributes"))
        waited = first_task.event_time.ToDatetime() - started_event.event_time.ToDatetime()
        log(f"first workflow task scheduled {waited.total_seconds():.3f}s after the start")
        check(waited >= DELAY, f"the first workflow task came {waited} after the start")


if __name__ == "__main__":
    run_scenario(main, "a start delay holds the first workflow task back")
