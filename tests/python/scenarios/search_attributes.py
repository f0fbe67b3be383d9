"""Custom search attributes: registered, listed, set, checked and removed.

Attributes of every type are registered through the operator service and
listed back with the system ones. A workflow started with typed search
attributes upserts more from its code; describe shows them all. Starting
with an attribute the namespace does not define, or a value of the wrong
type, fails with INVALID_ARGUMENT naming the attribute; a workflow that
upserts an undefined attribute, or continues as new with one, has its
workflow task failed with BAD_SEARCH_ATTRIBUTES. Reserved names cannot be
registered, a removed attribute is no longer listed (and no longer
accepted), and the official CLI creates, lists and removes one too.
"""

import os
import subprocess
import sys
from datetime import datetime, timezone

from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType, WorkflowTaskFailedCause
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from _common import check, check_eq, connect, expect_rpc_error, for_worker, log, new_id, run_scenario, wait_for

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
NOTES = SearchAttributeKey.for_text("Notes")
PRIORITY = SearchAttributeKey.for_int("Priority")
SCORE = SearchAttributeKey.for_float("Score")
VIP = SearchAttributeKey.for_bool("Vip")
DUE = SearchAttributeKey.for_datetime("Due")
TAGS = SearchAttributeKey.for_keyword_list("Tags")
NOT_REGISTERED = SearchAttributeKey.for_keyword("NotRegistered")
# The registered Keyword attribute, written as an Int.
CUSTOMER_ID_AS_INT = SearchAttributeKey.for_int("CustomerId")

REGISTERED = {
    "CustomerId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Notes": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Priority": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Score": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Vip": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Due": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Tags": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


@workflow.defn
class Tagged:
    def __init__(self) -> None:
        self._finish = False

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes([PRIORITY.value_set(3), TAGS.value_set(["red", "urgent"])])
        await workflow.wait_condition(lambda: self._finish)
        return workflow.info().typed_search_attributes.get(CUSTOMER_ID) or ""

    @workflow.signal
    def finish(self) -> None:
        self._finish = True


@workflow.defn
class UpsertsUnregistered:
    @workflow.run
    async def run(self) -> None:
        workflow.upsert_search_attributes([NOT_REGISTERED.value_set("x")])
        await workflow.wait_condition(lambda: False)


@workflow.defn
class ContinuesWithUnregistered:
    @workflow.run
    async def run(self) -> None:
        workflow.continue_as_new(search_attributes=TypedSearchAttributes([SearchAttributePair(NOT_REGISTERED, "x")]))


async def bad_search_attributes_failure(handle) -> str:
    """Waits for the run's workflow task to fail with BAD_SEARCH_ATTRIBUTES; returns the failure's message."""
    found: list[str] = []

    async def failed() -> bool:
        for event in (await handle.fetch_history()).events:
            if event.HasField("workflow_task_failed_event_attributes"):
                attributes = event.workflow_task_failed_event_attributes
                check_eq(
                    attributes.cause,
                    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
                    "the workflow task failure's cause",
                )
                found.append(attributes.failure.message)
                return True
        return False

    await wait_for(failed, f"{handle.id}'s workflow task to fail with BAD_SEARCH_ATTRIBUTES")
    return found[0]


def temporal_cli(args, *command: str) -> subprocess.CompletedProcess:
    cli = os.path.join(os.path.dirname(sys.executable), "temporal")
    done = subprocess.run(
        [cli, *command, "--address", args.address, "--namespace", args.namespace],
        capture_output=True, text=True, timeout=60,
    )
    check(done.returncode == 0, f"temporal {' '.join(command)} failed: {done.stdout} {done.stderr}")
    return done


async def main(args) -> None:
    client = await connect(args)
    namespace = client.namespace
    operator = client.operator_service

    await operator.add_search_attributes(AddSearchAttributesRequest(namespace=namespace, search_attributes=REGISTERED))
    # Adding the same again changes nothing, as in Temporal.
    await operator.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes={"CustomerId": REGISTERED["CustomerId"]})
    )
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    check_eq(dict(listed.custom_attributes), REGISTERED, "the custom search attributes listed")
    check_eq(listed.system_attributes.get("WorkflowId"), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, "WorkflowId's type")
    check_eq(listed.system_attributes.get("StartTime"), IndexedValueType.INDEXED_VALUE_TYPE_DATETIME, "StartTime's type")
    check_eq(
        listed.system_attributes.get("TemporalChangeVersion"),
        IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
        "TemporalChangeVersion's type",
    )
    log(f"registered {sorted(REGISTERED)}; {len(listed.system_attributes)} system attributes listed")

    await expect_rpc_error(
        "registering a system attribute's name",
        operator.add_search_attributes(AddSearchAttributesRequest(
            namespace=namespace, search_attributes={"WorkflowId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )),
        RPCStatusCode.INVALID_ARGUMENT,
        "reserved",
    )
    await expect_rpc_error(
        "registering a name in Temporal's reserved prefix",
        operator.add_search_attributes(AddSearchAttributesRequest(
            namespace=namespace, search_attributes={"TemporalMine": IndexedValueType.INDEXED_VALUE_TYPE_INT},
        )),
        RPCStatusCode.INVALID_ARGUMENT,
        "TemporalMine",
    )

    task_queue = new_id("search-attributes-tq")
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    async with Worker(
        for_worker(client),
        task_queue=task_queue,
        workflows=[Tagged, UpsertsUnregistered, ContinuesWithUnregistered],
    ):
        handle = await client.start_workflow(
            Tagged.run,
            id=new_id("tagged"),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(CUSTOMER_ID, "c-42"),
                SearchAttributePair(NOTES, "a note with words"),
                SearchAttributePair(SCORE, 1.5),
                SearchAttributePair(VIP, True),
                SearchAttributePair(DUE, due),
            ]),
        )

        async def upserted() -> bool:
            return (await handle.describe()).typed_search_attributes.get(PRIORITY) == 3

        await wait_for(upserted, "the workflow's upsert of Priority")
        attributes = (await handle.describe()).typed_search_attributes
        check_eq(attributes.get(CUSTOMER_ID), "c-42", "CustomerId as started")
        check_eq(attributes.get(NOTES), "a note with words", "Notes as started")
        check_eq(attributes.get(SCORE), 1.5, "Score as started")
        check_eq(attributes.get(VIP), True, "Vip as started")
        check_eq(attributes.get(DUE), due, "Due as started")
        check_eq(attributes.get(TAGS), ["red", "urgent"], "Tags as upserted")
        await handle.signal(Tagged.finish)
        check_eq(await handle.result(), "c-42", "the workflow saw its search attributes")
        log("typed search attributes set at start and upserted by the workflow, as described")

        await expect_rpc_error(
            "starting with an attribute the namespace does not define",
            client.start_workflow(
                Tagged.run, id=new_id("unregistered"), task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(NOT_REGISTERED, "x")]),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "NotRegistered",
        )
        await expect_rpc_error(
            "starting with a Keyword attribute given an Int",
            client.start_workflow(
                Tagged.run, id=new_id("mistyped"), task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER_ID_AS_INT, 5)]),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "search attribute CustomerId of type Keyword",
        )

        for workflow_type in (UpsertsUnregistered, ContinuesWithUnregistered):
            bad = await client.start_workflow(workflow_type.run, id=new_id("bad-sa"), task_queue=task_queue)
            message = await bad_search_attributes_failure(bad)
            check("NotRegistered" in message, f"the failure names the attribute: {message!r}")
            await bad.terminate("checked")
            log(f"{workflow_type.__name__}: workflow task failed with BAD_SEARCH_ATTRIBUTES: {message}")

        await operator.remove_search_attributes(RemoveSearchAttributesRequest(
            namespace=namespace, search_attributes=["Notes", "NeverRegistered"],
        ))
        listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        check("Notes" not in listed.custom_attributes, f"Notes is removed: {dict(listed.custom_attributes)}")
        check_eq(len(listed.custom_attributes), len(REGISTERED) - 1, "the other attributes stay")
        await expect_rpc_error(
            "starting with a removed attribute",
            client.start_workflow(
                Tagged.run, id=new_id("removed"), task_queue=task_queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(NOTES, "gone")]),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "Notes",
        )
        await expect_rpc_error(
            "removing a system attribute",
            operator.remove_search_attributes(RemoveSearchAttributesRequest(
                namespace=namespace, search_attributes=["WorkflowId"],
            )),
            RPCStatusCode.INVALID_ARGUMENT,
            "WorkflowId",
        )
        log("removed Notes; a name never registered is skipped, a system one refused")

    temporal_cli(args, "operator", "search-attribute", "create", "--name", "CliAttr", "--type", "Keyword")
    listed_by_cli = temporal_cli(args, "operator", "search-attribute", "list", "--output", "json").stdout
    check("CliAttr" in listed_by_cli, f"the CLI lists CliAttr: {listed_by_cli}")
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    check_eq(listed.custom_attributes.get("CliAttr"), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, "CliAttr's type")
    temporal_cli(args, "operator", "search-attribute", "remove", "--name", "CliAttr", "--yes")
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    check("CliAttr" not in listed.custom_attributes, "the CLI removed CliAttr")
    log("the CLI created, listed and removed CliAttr")


if __name__ == "__main__":
    run_scenario(main, "custom search attributes registered, set, checked and removed")
