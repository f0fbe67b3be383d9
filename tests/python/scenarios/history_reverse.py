"""GetWorkflowExecutionHistoryReverse: a run's events newest first, in pages,
ending with the started event; the same events as the forward history, in
reverse. (Temper pages hold at most the page size asked for; Temporal's
round up to whole write batches, so only paging itself is checked.)
"""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_types, for_worker, log, new_id, run_scenario


@activity.defn
async def step(n: int) -> int:
    return n


@workflow.defn
class Steps:
    @workflow.run
    async def run(self) -> int:
        total = 0
        for n in range(3):
            total += await workflow.execute_activity(step, n, start_to_close_timeout=timedelta(seconds=10))
        return total


async def main(args) -> None:
    client: Client = await connect(args)
    task_queue = new_id("history-reverse-tq")
    workflow_id = new_id("history-reverse-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[Steps], activities=[step]):
        handle = await client.start_workflow(Steps.run, id=workflow_id, task_queue=task_queue)
        await handle.result()
    forward = (await handle.fetch_history()).events

    pages, token, reverse = 0, b"", []
    while True:
        response = await client.workflow_service.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=args.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                maximum_page_size=4,
                next_page_token=token,
            )
        )
        pages += 1
        check(response.history.events, f"page {pages} is not empty")
        reverse.extend(response.history.events)
        token = response.next_page_token
        if not token:
            break
        check(pages < 100, "the pages end")
    log(f"{len(reverse)} events newest first in {pages} pages of about 4")
    check_eq([e.event_id for e in reverse], [e.event_id for e in reversed(forward)], "event ids, newest first")
    check_eq(event_types(History(events=reverse)), list(reversed(event_types(History(events=forward)))), "event types")
    check_eq(reverse[-1].event_id, 1, "the last page ends with the started event")
    check(pages > 1, f"{len(forward)} events came in pages of about 4, not in {pages}")


if __name__ == "__main__":
    run_scenario(main, "a run's history newest first, in pages")
