"""Async activity completion: activities that return without a result
(`activity.raise_complete_async()`) are completed, failed and heartbeated
from a separate client, by task token and by workflow and activity id
(the ...ById RPCs); an activity id that is not running answers NOT_FOUND.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import check_eq, connect, event_types, expect_rpc_error, for_worker, log, new_id, run_scenario

# Task tokens of the activities waiting to be completed from outside, by name.
TOKENS: dict[str, bytes] = {}


@activity.defn
async def wait_outside(name: str) -> str:
    TOKENS[name] = activity.info().task_token
    activity.raise_complete_async()


@workflow.defn
class AsyncCompletion:
    @workflow.run
    async def run(self) -> list[str]:
        results = []
        for name in ("by-token", "by-id"):
            results.append(await workflow.execute_activity(wait_outside, name, activity_id=name, start_to_close_timeout=timedelta(minutes=1)))
        try:
            await workflow.execute_activity(
                wait_outside,
                "fail-by-id",
                activity_id="fail-by-id",
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as err:
            results.append(f"failed: {err.cause.message}")
        return results


async def until_waiting(name: str) -> None:
    for _ in range(400):
        if name in TOKENS:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"activity {name} never started")


async def main(args) -> None:
    client: Client = await connect(args)
    # The completions come from another client, as from another process.
    outside = await Client.connect(args.address, namespace=args.namespace)
    task_queue = new_id("async-completion-tq")
    workflow_id = new_id("async-completion-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[AsyncCompletion], activities=[wait_outside]):
        handle = await client.start_workflow(AsyncCompletion.run, id=workflow_id, task_queue=task_queue)

        await until_waiting("by-token")
        by_token = outside.get_async_activity_handle(task_token=TOKENS["by-token"])
        await by_token.heartbeat("halfway")
        await by_token.complete("done by token")

        await until_waiting("by-id")
        by_id = outside.get_async_activity_handle(workflow_id=workflow_id, run_id=None, activity_id="by-id")
        await by_id.heartbeat("halfway")
        await by_id.complete("done by id")
        await expect_rpc_error(
            "completing by id an activity already completed",
            by_id.complete("twice"),
            RPCStatusCode.NOT_FOUND,
            message_mentions="by-id",
        )

        await until_waiting("fail-by-id")
        await expect_rpc_error(
            "completing by id an activity the workflow never scheduled",
            outside.get_async_activity_handle(workflow_id=workflow_id, run_id=None, activity_id="no-such-activity").complete("x"),
            RPCStatusCode.NOT_FOUND,
            message_mentions="no-such-activity",
        )
        failing = outside.get_async_activity_handle(workflow_id=workflow_id, run_id=handle.result_run_id, activity_id="fail-by-id")
        await failing.fail(ApplicationError("the outside says no", non_retryable=True))

        results = await handle.result()
        log(f"workflow {workflow_id} returned {results!r}")
        check_eq(results, ["done by token", "done by id", "failed: the outside says no"], "workflow result")
        types = event_types(await handle.fetch_history())
        check_eq(types.count("ActivityTaskCompleted"), 2, f"ActivityTaskCompleted events in {types}")
        check_eq(types.count("ActivityTaskFailed"), 1, f"ActivityTaskFailed events in {types}")


if __name__ == "__main__":
    run_scenario(main, "activities completed from outside the worker, by token and by id")
