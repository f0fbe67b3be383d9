"""Prometheus metrics count what the official Python SDK did.

Runs workflows that end every way a run can end and an activity that fails
once per workflow before it succeeds, then scrapes the server's `/metrics`
(--metrics-url) until the counts match, and saves the last scrape to
--save-to for `promtool check metrics`:

  - temporal_workflow_{completed,failed,canceled,terminated,timeout,
    continued_as_new}_total, by namespace and workflow type;
  - temporal_activity_execution_failed_total, temporal_activity_completed_total
    and the temporal_activity_execution_latency histogram's count;
  - temporal_service_requests_total and temper_commands_appended_total for
    the starts, and temporal_service_errors_total for a start refused as a
    duplicate;
  - temporal_task_queue_length for a queue nobody polls;
  - temporal_schedule_action_success_total and the
    temporal_schedule_action_delay_seconds histogram's count for a
    schedule's trigger.

Counts are checked as increases over a scrape taken first, of workflow and
activity types that are the scenario's own, so whatever else ran on the
server does not change them.
"""

import asyncio
import re
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from temporalio import activity, workflow
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    WorkflowFailureError,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.worker import Worker

from _common import check, connect, for_worker, log, new_id, run_scenario

COMPLETING = 3
FAILING = 2


@activity.defn(name="metrics_flaky")
async def metrics_flaky(name: str) -> str:
    if activity.info().attempt == 1:
        raise ApplicationError("the first attempt fails")
    return f"charged {name}"


@workflow.defn(name="MetricsCompletes")
class MetricsCompletes:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            metrics_flaky,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )


@workflow.defn(name="MetricsFails")
class MetricsFails:
    @workflow.run
    async def run(self) -> str:
        raise ApplicationError("this workflow fails", non_retryable=True)


@workflow.defn(name="MetricsContinues")
class MetricsContinues:
    @workflow.run
    async def run(self, round: int) -> int:
        if round == 0:
            workflow.continue_as_new(1)
        return round


@workflow.defn(name="MetricsWaits")
class MetricsWaits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        check(
            response.headers.get("Content-Type", "").startswith("text/plain"),
            f"content type {response.headers.get('Content-Type')!r}",
        )
        return response.read().decode()


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            found[(match.group(1), labels)] = float(match.group(3))
    return found


def value(found, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def mismatches(found, expected: dict) -> list[str]:
    wrong = []
    for (name, labels), want in expected.items():
        got = value(found, name, **dict(labels))
        if got != want:
            wrong.append(f"{name}{dict(labels)} = {got}, expected {want}")
    return wrong


def outcome(name: str, workflow_type: str, namespace: str) -> tuple:
    return (f"temporal_workflow_{name}_total", (("namespace", namespace), ("workflow_type", workflow_type)))


async def main(args) -> None:
    client = await connect(args)
    ns = args.namespace
    task_queue = new_id("metrics-tq")
    unpolled_queue = new_id("metrics-unpolled")
    baseline = samples(scrape(args.metrics_url))
    async with Worker(
        for_worker(client),
        task_queue=task_queue,
        workflows=[MetricsCompletes, MetricsFails, MetricsContinues, MetricsWaits],
        activities=[metrics_flaky],
    ):
        completing = [
            await client.start_workflow(MetricsCompletes.run, f"c{i}", id=new_id("metrics-c"), task_queue=task_queue)
            for i in range(COMPLETING)
        ]
        failing = [
            await client.start_workflow(MetricsFails.run, id=new_id("metrics-f"), task_queue=task_queue)
            for _ in range(FAILING)
        ]
        continuing = await client.start_workflow(MetricsContinues.run, 0, id=new_id("metrics-can"), task_queue=task_queue)
        to_terminate = await client.start_workflow(MetricsWaits.run, id=new_id("metrics-t"), task_queue=task_queue)
        to_cancel = await client.start_workflow(MetricsWaits.run, id=new_id("metrics-x"), task_queue=task_queue)
        timing_out = await client.start_workflow(
            "MetricsTimesOut", id=new_id("metrics-timeout"), task_queue=new_id("metrics-timeout-tq"),
            run_timeout=timedelta(seconds=1),
        )
        unpolled = await client.start_workflow("MetricsUnpolled", id=new_id("metrics-u"), task_queue=unpolled_queue)
        schedule = await client.create_schedule(
            new_id("metrics-schedule"),
            Schedule(
                # Nobody polls its queue: the start is what is counted.
                action=ScheduleActionStartWorkflow("MetricsScheduled", id=new_id("metrics-s"), task_queue=new_id("metrics-scheduled-tq")),
                # Its spec's first time is a day away: only the triggers act.
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))], start_at=datetime.now(timezone.utc) + timedelta(days=1)),
            ),
        )
        await schedule.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        try:
            await client.start_workflow(MetricsWaits.run, id=to_terminate.id, task_queue=task_queue)
            raise AssertionError("a second start of a running workflow id was accepted")
        except WorkflowAlreadyStartedError:
            pass

        for handle in completing:
            await handle.result()
        for handle in failing:
            try:
                await handle.result()
                raise AssertionError("MetricsFails completed")
            except WorkflowFailureError:
                pass
        check(await continuing.result() == 1, "the continued run's result")
        await to_terminate.terminate("metrics scenario")
        await to_cancel.cancel()
        try:
            await to_cancel.result()
        except WorkflowFailureError:
            pass
        try:
            await timing_out.result()
        except WorkflowFailureError:
            pass

        unpolled_length = (
            "temporal_task_queue_length",
            (("namespace", ns), ("task_queue", unpolled_queue), ("kind", "workflow")),
        )
        expected = {
            outcome("completed", "MetricsCompletes", ns): COMPLETING,
            outcome("failed", "MetricsFails", ns): FAILING,
            outcome("continued_as_new", "MetricsContinues", ns): 1,
            outcome("completed", "MetricsContinues", ns): 1,
            outcome("terminated", "MetricsWaits", ns): 1,
            outcome("canceled", "MetricsWaits", ns): 1,
            outcome("timeout", "MetricsTimesOut", ns): 1,
            ("temporal_activity_execution_failed_total", (("namespace", ns), ("activity_type", "metrics_flaky"))): COMPLETING,
            ("temporal_activity_completed_total", (("namespace", ns), ("activity_type", "metrics_flaky"))): COMPLETING,
            ("temporal_activity_execution_latency_count", (("namespace", ns), ("activity_type", "metrics_flaky"))): 2 * COMPLETING,
            unpolled_length: 1,
            ("temporal_schedule_action_success_total", (("namespace", ns),)): 1,
            ("temporal_schedule_action_delay_seconds_count", (("namespace", ns),)): 1,
        }
        found = await until_counted(args.metrics_url, expected, baseline)
        starts = value(found, "temporal_service_requests_total", operation="StartWorkflowExecution")
        starts -= value(baseline, "temporal_service_requests_total", operation="StartWorkflowExecution")
        check(starts >= COMPLETING + FAILING + 6, f"StartWorkflowExecution requests counted: {starts}")
        appended = value(found, "temper_commands_appended_total", command="StartWorkflow")
        appended -= value(baseline, "temper_commands_appended_total", command="StartWorkflow")
        check(appended >= COMPLETING + FAILING + 6, f"StartWorkflow commands appended: {appended}")
        refused_labels = dict(operation="StartWorkflowExecution", status_code="ALREADY_EXISTS")
        refused = value(found, "temporal_service_errors_total", **refused_labels)
        refused -= value(baseline, "temporal_service_errors_total", **refused_labels)
        check(refused >= 1, f"the refused duplicate start counted as ALREADY_EXISTS: {refused}")
        for family in ("temper_commit_latency_seconds", "temper_shard_lag", "temper_projection_lag_seconds"):
            check(f"# TYPE {family} " in scrape(args.metrics_url), f"{family} is exposed")

        await schedule.delete()
        await unpolled.terminate("metrics scenario")
        del expected[unpolled_length]
        expected[outcome("terminated", "MetricsUnpolled", ns)] = 1
        await until_counted(args.metrics_url, expected, baseline)
        if args.save_to:
            with open(args.save_to, "w") as saved:
                saved.write(scrape(args.metrics_url))
            log(f"scrape saved to {args.save_to}")


async def until_counted(url: str, increases: dict, baseline, timeout: float = 20.0):
    """Counting follows the commit asynchronously and gauges are sampled
    every 2 s: scrape until every value grew as expected over `baseline`
    (gauges the scenario made from nothing count as increases too)."""
    expected = {key: value(baseline, key[0], **dict(key[1])) + more for key, more in increases.items()}
    deadline = time.monotonic() + timeout
    while True:
        found = samples(scrape(url))
        wrong = mismatches(found, expected)
        if not wrong:
            log(f"all {len(expected)} expected metric values are there")
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics do not match after {timeout}s: " + "; ".join(wrong))
        await asyncio.sleep(0.2)


def add_arguments(parser) -> None:
    parser.add_argument("--metrics-url", required=True, help="the server's /metrics URL")
    parser.add_argument("--save-to", help="write the last scrape to this file")


if __name__ == "__main__":
    run_scenario(main, "Prometheus metrics count what the SDK did", timeout=90.0, add_arguments=add_arguments)
