"""Scenario 6: signals plus a query.

The workflow accumulates numbers sent by signal until a final "close" signal.
Checks: a query issued after two signals returns the state including both
(a query sees every signal whose RPC has returned); the close signal completes
the workflow with the sum; the history records the signals in order; a query
on the completed workflow still answers with the final state.
"""

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.worker import Worker

from _common import check_eq, connect, event_types, log, new_id, run_scenario, for_worker


@dataclass
class CartState:
    items: list[int] = field(default_factory=list)
    closed: bool = False


@workflow.defn
class CartWorkflow:
    def __init__(self) -> None:
        self._state = CartState()

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._state.closed)
        return sum(self._state.items)

    @workflow.signal
    def add_item(self, amount: int) -> None:
        self._state.items.append(amount)

    @workflow.signal
    def close(self) -> None:
        self._state.closed = True

    @workflow.query
    def state(self) -> CartState:
        return self._state


async def main(args) -> None:
    client = await connect(args)
    task_queue = new_id("signal-query-tq")
    workflow_id = new_id("signal-query-wf")
    async with Worker(for_worker(client), task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(
            CartWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        await handle.signal(CartWorkflow.add_item, 5)
        await handle.signal(CartWorkflow.add_item, 7)

        state = await handle.query(CartWorkflow.state)
        log(f"query after two signals: {state}")
        check_eq(state, CartState(items=[5, 7], closed=False), "queried state")

        await handle.signal(CartWorkflow.add_item, 30)
        await handle.signal(CartWorkflow.close)
        result = await handle.result()
        log(f"workflow returned {result!r}")
        check_eq(result, 42, "workflow result")

        history = await handle.fetch_history()
        signals = [
            (
                e.workflow_execution_signaled_event_attributes.signal_name,
                [
                    p.data.decode()
                    for p in e.workflow_execution_signaled_event_attributes.input.payloads
                ],
            )
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
        ]
        check_eq(
            signals,
            [("add_item", ["5"]), ("add_item", ["7"]), ("add_item", ["30"]), ("close", [])],
            "signals recorded in the history",
        )
        check_eq(
            event_types(history)[-1], "WorkflowExecutionCompleted", "last history event"
        )

        # Queries keep working after completion (the worker replays the history).
        final_state = await handle.query(CartWorkflow.state)
        log(f"query after completion: {final_state}")
        check_eq(final_state, CartState(items=[5, 7, 30], closed=True), "final queried state")


if __name__ == "__main__":
    run_scenario(main, "signals accumulate state, a query reads it, a signal completes it")
