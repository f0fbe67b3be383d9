"""Cron workflows: runs at the cron times, each the next run of the chain.

A workflow started with cron schedule `@every 2s` counts its runs through
its last completion result. Checks over two runs: the first run waits for
the first cron time (first-workflow-task backoff), completes and names the
next run; the next run carries the schedule, the CRON_SCHEDULE initiator and
the previous result, and starts at the next cron time. Terminating the
workflow stops the chain. A bad cron string is refused with INVALID_ARGUMENT.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, expect_rpc_error, log, new_id, run_scenario, wait_for, for_worker

SCHEDULE = "@every 2s"


@workflow.defn
class CountingCronWorkflow:
    @workflow.run
    async def run(self) -> int:
        previous = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        return previous + 1


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("cron-tq")
    workflow_id = new_id("cron-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CountingCronWorkflow]):
        handle = await client.start_workflow(
            CountingCronWorkflow.run, id=workflow_id, task_queue=task_queue, cron_schedule=SCHEDULE
        )
        first_run_id = handle.result_run_id
        runs = []

        async def two_runs_completed() -> bool:
            runs.clear()
            run_id = first_run_id
            while run_id and len(runs) < 2:
                history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
                last = history.events[-1]
                if not last.HasField("workflow_execution_completed_event_attributes"):
                    return False
                runs.append(history)
                run_id = last.workflow_execution_completed_event_attributes.new_execution_run_id
            return len(runs) == 2

        await wait_for(two_runs_completed, "two cron runs completed", timeout=30)
        first, second = runs
        first_started = first.events[0].workflow_execution_started_event_attributes
        check_eq(first_started.cron_schedule, SCHEDULE, "the first run's cron schedule")
        check_eq(first_started.initiator, ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE, "first initiator")
        check(first_started.first_workflow_task_backoff.ToTimedelta() <= timedelta(seconds=2),
              f"the first run waits at most one period: {first_started.first_workflow_task_backoff.ToTimedelta()}")
        second_started = second.events[0].workflow_execution_started_event_attributes
        check_eq(second_started.cron_schedule, SCHEDULE, "the schedule carries over")
        check_eq(second_started.initiator, ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE, "initiator")
        check_eq(second_started.continued_execution_run_id, first_run_id, "continued_execution_run_id")
        check_eq(second_started.last_completion_result.payloads[0].data, b"1", "the previous run's result")
        check_eq(second.events[-1].workflow_execution_completed_event_attributes.result.payloads[0].data, b"2",
                 "the second run counted on from the first")
        first_task = next(e for e in second.events if e.HasField("workflow_task_scheduled_event_attributes"))
        waited = (first_task.event_time.ToDatetime() - second.events[0].event_time.ToDatetime()).total_seconds()
        log(f"the second run's first workflow task came {waited:.2f}s after it started")
        check(waited > 0.5, f"the second run did not wait for its cron time ({waited:.2f}s)")

        await client.get_workflow_handle(workflow_id).terminate(reason="enough")
        current = await client.get_workflow_handle(workflow_id).describe()
        check_eq(current.status, WorkflowExecutionStatus.TERMINATED, "status after terminate")
        history = await client.get_workflow_handle(workflow_id, run_id=current.run_id).fetch_history()
        closing = history.events[-1]
        check(closing.HasField("workflow_execution_terminated_event_attributes"), f"the last event: {closing}")
        check_eq(closing.workflow_execution_terminated_event_attributes.reason, "enough", "termination reason")
        after = await client.get_workflow_handle(workflow_id).describe()
        check_eq(after.run_id, current.run_id, "no run follows a terminated cron run")

        await expect_rpc_error(
            "a bad cron schedule",
            client.start_workflow(CountingCronWorkflow.run, id=new_id("cron-bad"), task_queue=task_queue,
                                  cron_schedule="61 * * * *"),
            RPCStatusCode.INVALID_ARGUMENT,
            "minute",
        )


if __name__ == "__main__":
    run_scenario(main, "a cron workflow runs at its cron times until terminated")
