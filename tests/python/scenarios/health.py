"""Scenario 16: the gRPC health service reports the workflow service serving.

`temporal operator cluster health`, load balancers and the SDK's
`check_health()` ask grpc.health.v1.Health for
temporal.api.workflowservice.v1.WorkflowService.
"""

from temporalio.client import Client

from _common import check, connect, log, run_scenario


async def main(args) -> None:
    client: Client = await connect(args)
    serving = await client.service_client.check_health()
    log(f"check_health() -> {serving}")
    check(serving, "the workflow service should report SERVING")


if __name__ == "__main__":
    run_scenario(main, "the health service reports SERVING")
