"""Workflow retry policy: a failed run is retried as a new run.

A workflow that fails on its first two attempts and succeeds on the third,
under a retry policy of 1 s intervals: handle.result() follows the retries to
the third attempt's result; each failed run's WorkflowExecutionFailed has
retry state IN_PROGRESS and names the next run, whose started event has the
next attempt, the RETRY initiator, the same input, the previous failure and a
1 s first-workflow-task backoff. With at most 2 attempts the same workflow
fails for good, with retry state MAXIMUM_ATTEMPTS_REACHED.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator, RetryState
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from _common import check, check_eq, connect, error_chain, log, new_id, run_scenario, for_worker

POLICY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=1.0)


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self, succeed_on: int) -> dict:
        attempt = workflow.info().attempt
        if attempt < succeed_on:
            raise ApplicationError(f"attempt {attempt} failed")
        return {"attempt": attempt}


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("retry-tq")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[FlakyWorkflow]):
        workflow_id = new_id("retry-wf")
        handle = await client.start_workflow(
            FlakyWorkflow.run, 3, id=workflow_id, task_queue=task_queue, retry_policy=POLICY
        )
        result = await handle.result()
        check_eq(result, {"attempt": 3}, "the result after two retries")

        run_id = handle.result_run_id
        for attempt in (1, 2):
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            failed = history.events[-1].workflow_execution_failed_event_attributes
            check_eq(failed.failure.message, f"attempt {attempt} failed", f"attempt {attempt}: failure")
            check_eq(failed.retry_state, RetryState.RETRY_STATE_IN_PROGRESS, f"attempt {attempt}: retry state")
            check(failed.new_execution_run_id, f"attempt {attempt}: the failed event names no next run")
            run_id = failed.new_execution_run_id
            next_history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            started = next_history.events[0].workflow_execution_started_event_attributes
            check_eq(started.attempt, attempt + 1, "the next run's attempt")
            check_eq(started.initiator, ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY, "initiator")
            check_eq(started.continued_failure.message, f"attempt {attempt} failed", "continued_failure")
            check_eq(started.first_workflow_task_backoff.ToTimedelta(), timedelta(seconds=1), "retry backoff")
            check_eq(started.retry_policy.maximum_attempts, 0, "the retry policy carries over")
        log("attempts 1 and 2 failed and were retried; attempt 3 completed")

        workflow_id = new_id("retry-exhausted-wf")
        handle = await client.start_workflow(
            FlakyWorkflow.run, 5, id=workflow_id, task_queue=task_queue,
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
        )
        try:
            await handle.result()
            check(False, "a workflow failing every attempt completed")
        except WorkflowFailureError as err:
            log(f"gave up as expected: {error_chain(err)}")
            check("attempt 2 failed" in error_chain(err), f"the last attempt's failure: {error_chain(err)}")
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        failed = history.events[-1].workflow_execution_failed_event_attributes
        check_eq(failed.retry_state, RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, "retry state after the last attempt")
        check_eq(failed.new_execution_run_id, "", "no run after the last attempt")


if __name__ == "__main__":
    run_scenario(main, "a failed workflow is retried as new runs by its retry policy")
