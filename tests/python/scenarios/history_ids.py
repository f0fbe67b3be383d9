"""Scenario 11: history event ids and references.

After a workflow with an activity and a timer completes, the full history
(handle.fetch_history()) must have event ids exactly 1..n, start with
WorkflowExecutionStarted, end with WorkflowExecutionCompleted, have
non-decreasing event times, and every id reference (scheduled/started event
ids, which SDKs rely on during replay) must point at an earlier event of the
right type. Reading the same history in small pages (raw
GetWorkflowExecutionHistory with maximum_page_size=2, following
next_page_token) must give the same events in more than one page.
"""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.worker import Worker

from _common import check, check_eq, connect, event_type_name, event_types, log, new_id, run_scenario, for_worker


@activity.defn
async def lookup_address(customer: str) -> str:
    return f"{customer} lives at 1 Main St"


@workflow.defn
class ShippingWorkflow:
    @workflow.run
    async def run(self, customer: str) -> str:
        address = await workflow.execute_activity(
            lookup_address, customer, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.sleep(timedelta(seconds=1))
        return f"shipped to {address}"


# (event attribute field, reference field, type the referenced event must have)
REFERENCES = [
    ("workflow_task_started_event_attributes", "scheduled_event_id", "WorkflowTaskScheduled"),
    ("workflow_task_completed_event_attributes", "scheduled_event_id", "WorkflowTaskScheduled"),
    ("workflow_task_completed_event_attributes", "started_event_id", "WorkflowTaskStarted"),
    ("activity_task_scheduled_event_attributes", "workflow_task_completed_event_id", "WorkflowTaskCompleted"),
    ("activity_task_started_event_attributes", "scheduled_event_id", "ActivityTaskScheduled"),
    ("activity_task_completed_event_attributes", "scheduled_event_id", "ActivityTaskScheduled"),
    ("activity_task_completed_event_attributes", "started_event_id", "ActivityTaskStarted"),
    ("timer_started_event_attributes", "workflow_task_completed_event_id", "WorkflowTaskCompleted"),
    ("timer_fired_event_attributes", "started_event_id", "TimerStarted"),
    ("workflow_execution_completed_event_attributes", "workflow_task_completed_event_id", "WorkflowTaskCompleted"),
]


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("history-ids-tq")
    workflow_id = new_id("history-ids-wf")
    async with Worker(
        for_worker(client), task_queue=task_queue, workflows=[ShippingWorkflow], activities=[lookup_address]
    ):
        handle = await client.start_workflow(
            ShippingWorkflow.run, "ada", id=workflow_id, task_queue=task_queue
        )
        check_eq(await handle.result(), "shipped to ada lives at 1 Main St", "workflow result")

    history = await handle.fetch_history()
    types = event_types(history)
    log(f"history: {types}")
    ids = [e.event_id for e in history.events]
    check_eq(ids, list(range(1, len(ids) + 1)), "event ids")
    check_eq(types[0], "WorkflowExecutionStarted", "first event")
    check_eq(types[-1], "WorkflowExecutionCompleted", "last event")
    for expected in ("ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted",
                     "TimerStarted", "TimerFired"):
        check_eq(types.count(expected), 1, f"{expected} events in {types}")

    times = [e.event_time.ToDatetime() for e in history.events]
    for event, previous_time, time in zip(history.events[1:], times, times[1:]):
        check(
            time >= previous_time,
            f"event {event.event_id} ({event_type_name(event.event_type)}) has time "
            f"{time}, earlier than the event before it ({previous_time})",
        )

    by_id = {e.event_id: e for e in history.events}
    for event in history.events:
        for attributes_field, reference_field, referenced_type in REFERENCES:
            if not event.HasField(attributes_field):
                continue
            target = getattr(getattr(event, attributes_field), reference_field)
            check(
                target in by_id and target < event.event_id,
                f"event {event.event_id} ({event_type_name(event.event_type)}).{reference_field} "
                f"= {target} does not point at an earlier event",
            )
            check_eq(
                event_type_name(by_id[target].event_type),
                referenced_type,
                f"type of the event that event {event.event_id} "
                f"({event_type_name(event.event_type)}).{reference_field} points at",
            )

    # Paging: SDKs read long histories page by page. Temporal treats
    # maximum_page_size loosely: it never splits the batch of events written
    # together, so a page may hold more events than asked for (for this
    # history, the dev server returns pages of [3, 5, 3, 3, 2]). Only the
    # concatenation is a contract, and that more than one page is returned.
    paged = []
    page_sizes = []
    token = b""
    while True:
        response = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=args.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                maximum_page_size=2,
                next_page_token=token,
            )
        )
        page_sizes.append(len(response.history.events))
        paged.extend(response.history.events)
        token = response.next_page_token
        if not token:
            break
        check(len(page_sizes) < 100, "GetWorkflowExecutionHistory keeps returning a next_page_token")
    log(f"read {len(paged)} events with maximum_page_size=2 in pages of {page_sizes}")
    check(len(page_sizes) > 1, f"maximum_page_size=2 returned a single page of {page_sizes[0]} events")
    check_eq([e.event_id for e in paged], ids, "event ids read page by page")
    check_eq(list(paged), list(history.events), "events read page by page")


if __name__ == "__main__":
    run_scenario(main, "history event ids are 1..n and references are consistent")
