"""Workflow ids that land on every shard of a Temper server, and the check the
robustness scenarios end with: an ordinary workflow completes on each shard.

Temper places a workflow on shard FNV-1a(namespace id, 0xff, workflow id) %
shard count (engine/src/partitioning.rs); this mirrors it so a scenario can
pick one id per shard. Against Temporal's server the ids are just ids.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.worker import Worker

from _common import check_eq, log, new_id, for_worker

#: `temper server start-dev --shards` default, which the tests use.
SHARDS = 4

_OFFSET_BASIS = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def _stable_hash(parts: list[str]) -> int:
    value = _OFFSET_BASIS
    for index, part in enumerate(parts):
        if index > 0:
            value = ((value ^ 0xFF) * _PRIME) & _MASK
        for byte in part.encode():
            value = ((value ^ byte) * _PRIME) & _MASK
    return value


def shard_of(namespace_id: str, workflow_id: str, shards: int = SHARDS) -> int:
    return _stable_hash([namespace_id, workflow_id]) % shards


async def namespace_id(client: Client) -> str:
    response = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    return response.namespace_info.id


async def id_on_shard(client: Client, prefix: str, shard: int) -> str:
    """A fresh workflow id (starting with `prefix`) on `shard`."""
    ns_id = await namespace_id(client)
    while True:
        candidate = new_id(prefix)
        if shard_of(ns_id, candidate) == shard:
            return candidate


async def ids_on_every_shard(client: Client, prefix: str) -> list[str]:
    """One fresh workflow id per shard."""
    return [await id_on_shard(client, prefix, shard) for shard in range(SHARDS)]


@activity.defn
async def shard_check_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class ShardCheckWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            shard_check_greeting, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def check_every_shard_serves(client: Client) -> None:
    """An ordinary workflow with an activity completes on every shard."""
    task_queue = new_id("shard-check-tq")
    workflow_ids = await ids_on_every_shard(client, "shard-check-wf")
    async with Worker(
        for_worker(client),
        task_queue=task_queue,
        workflows=[ShardCheckWorkflow],
        activities=[shard_check_greeting],
    ):
        results = await asyncio.gather(
            *(
                client.execute_workflow(
                    ShardCheckWorkflow.run, workflow_id, id=workflow_id, task_queue=task_queue
                )
                for workflow_id in workflow_ids
            )
        )
    for workflow_id, result in zip(workflow_ids, results):
        check_eq(result, f"Hello, {workflow_id}!", f"result of {workflow_id}")
    log(f"an ordinary workflow completed on each of the {SHARDS} shards")
