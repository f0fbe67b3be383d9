"""An ordinary workflow completes on every shard: what the robustness tests
check again after restarting the server on the same data directory."""

from _common import connect, run_scenario
from _shards import check_every_shard_serves


async def main(args) -> None:
    await check_every_shard_serves(await connect(args))


if __name__ == "__main__":
    run_scenario(main, "an ordinary workflow completes on every shard")
