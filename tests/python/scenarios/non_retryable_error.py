"""Scenario 9: a non-retryable ApplicationError from an activity.

The activity raises ApplicationError(type="MyBizError", non_retryable=True)
although its retry policy would allow 5 attempts; the workflow lets the error
propagate. Checks: the client's WorkflowFailureError has an ActivityError
cause whose cause is an ApplicationError of type "MyBizError" with the
message and details; the activity ran exactly once; the history has
ActivityTaskFailed (not retried) and ends with WorkflowExecutionFailed.
"""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.worker import Worker

from _common import (
    for_worker,
    check,
    check_eq,
    connect,
    error_chain,
    event_types,
    log,
    new_id,
    run_scenario,
)

RUNS: list[int] = []


@activity.defn
async def reserve_stock(sku: str) -> str:
    RUNS.append(activity.info().attempt)
    raise ApplicationError(
        f"sku {sku} is discontinued", {"sku": sku}, type="MyBizError", non_retryable=True
    )


@workflow.defn
class OrderWorkflow:
    @workflow.run
    async def run(self, sku: str) -> str:
        return await workflow.execute_activity(
            reserve_stock,
            sku,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=5
            ),
        )


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("non-retryable-tq")
    workflow_id = new_id("non-retryable-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[OrderWorkflow], activities=[reserve_stock]
    ):
        handle = await client.start_workflow(
            OrderWorkflow.run, "SKU-9", id=workflow_id, task_queue=task_queue
        )
        try:
            result = await handle.result()
        except WorkflowFailureError as err:
            log(f"result() raised {error_chain(err)}")
            activity_error = err.cause
            check(
                isinstance(activity_error, ActivityError),
                f"cause should be ActivityError, got {error_chain(err)}",
            )
            app_error = activity_error.cause
            check(
                isinstance(app_error, ApplicationError),
                f"ActivityError's cause should be ApplicationError, got {error_chain(err)}",
            )
            check_eq(app_error.type, "MyBizError", "ApplicationError.type")
            check_eq(app_error.non_retryable, True, "ApplicationError.non_retryable")
            check_eq(app_error.message, "sku SKU-9 is discontinued", "ApplicationError.message")
            check_eq(list(app_error.details), [{"sku": "SKU-9"}], "ApplicationError.details")
            check_eq(activity_error.activity_type, "reserve_stock", "ActivityError.activity_type")
            # The server says why it did not retry.
            check_eq(
                activity_error.retry_state,
                RetryState.NON_RETRYABLE_FAILURE,
                "ActivityError.retry_state",
            )
        else:
            raise AssertionError(f"workflow returned {result!r} instead of failing")

        check_eq(RUNS, [1], "activity attempts that ran")
        check_eq(
            (await handle.describe()).status, WorkflowExecutionStatus.FAILED, "describe().status"
        )
        types = event_types(await handle.fetch_history())
        check_eq(types.count("ActivityTaskStarted"), 1, f"ActivityTaskStarted events in {types}")
        check_eq(types.count("ActivityTaskFailed"), 1, f"ActivityTaskFailed events in {types}")
        check_eq(types[-1], "WorkflowExecutionFailed", "last history event")


if __name__ == "__main__":
    run_scenario(main, "a non-retryable activity error fails the workflow, unretried")
