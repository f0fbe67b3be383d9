"""Two workflows scenarios use to have runs in a namespace of their own: one
that completes at once and one that runs until it is stopped."""

from temporalio import workflow


@workflow.defn(name="Quick")
class Quick:
    @workflow.run
    async def run(self) -> str:
        return "done"


@workflow.defn(name="WaitsForever")
class WaitsForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)
