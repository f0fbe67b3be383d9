"""Differential: schedule specs on Temper and on Temporal's own dev server.

Each spec below is created as a schedule on --address (Temper) and on
--reference (Temporal's dev server) through the raw WorkflowService API
(so every form of the spec can be sent: structured and string calendars,
cron strings with and without CRON_TZ, macros, intervals with phases,
exclusions, start and end times, time zones with daylight saving changes).
Compared exactly:

- the spec DescribeSchedule returns (its canonical form: cron and calendar
  strings turned into structured calendars);
- ListScheduleMatchingTimes over windows that include the DST changes of
  2026;
- for specs Temporal refuses, the status code (and that both refuse);
- the policies DescribeSchedule shows for schedules created with none and
  with some (the overlap policy and catchup window in effect filled in).

Jitter is left out: Temporal seeds it with the namespace id, which differs
between the two servers (the unit tests in engine/src/schedules check it).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from google.protobuf.duration_pb2 import Duration
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Range,
    Schedule,
    ScheduleAction,
    SchedulePolicies,
    ScheduleSpec,
    StructuredCalendarSpec,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeScheduleRequest,
    ListScheduleMatchingTimesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from _common import check, check_eq, log, new_id, run_scenario


def ts(year: int, month: int, day: int, hour: int = 0) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(year, month, day, hour, tzinfo=timezone.utc))
    return stamp


def seconds(count: int) -> Duration:
    return Duration(seconds=count)


def cron(*strings: str, zone: str = "") -> ScheduleSpec:
    return ScheduleSpec(cron_string=list(strings), timezone_name=zone)


def structured(**fields) -> StructuredCalendarSpec:
    ranges = {name: [Range(**r) for r in value] for name, value in fields.items() if name != "comment"}
    return StructuredCalendarSpec(comment=fields.get("comment", ""), **ranges)


# Windows of 2026 around both daylight saving changes in New York and
# Europe, and a whole year for sparse specs.
SPRING = (ts(2026, 3, 1), ts(2026, 4, 5))
AUTUMN = (ts(2026, 10, 20), ts(2026, 11, 10))
YEAR = (ts(2026, 1, 1), ts(2027, 1, 1))

SPECS: list[tuple[str, ScheduleSpec, list]] = [
    ("cron daily 2:30 New York", cron("30 2 * * *", zone="America/New_York"), [SPRING, AUTUMN]),
    ("cron 1:30 New York (repeated hour)", cron("30 1 * * *", zone="America/New_York"), [AUTUMN]),
    ("cron with CRON_TZ", cron("CRON_TZ=Europe/London 15 1 * * *"), [SPRING, AUTUMN]),
    ("cron weekdays every 15 min", cron("*/15 9-11 * * MON-FRI"), [(ts(2026, 3, 6), ts(2026, 3, 10))]),
    ("cron names and lists", cron("0 12 1,15 JAN,JUL *"), [YEAR]),
    ("cron with seconds and year", cron("10 0 6 * * * 2026"), [(ts(2026, 12, 28), ts(2027, 1, 3))]),
    ("cron day of month or week", cron("0 6 13 * FRI"), [YEAR]),
    ("cron last day of month", cron("0 0 L * *"), [YEAR]),
    ("macros", cron("@daily", "@hourly"), [(ts(2026, 5, 1), ts(2026, 5, 2, 3))]),
    ("@every with phase", cron("@every 90m/5m"), [(ts(2026, 5, 1), ts(2026, 5, 2))]),
    ("two cron strings", cron("0 8 * * *", "30 17 * * *"), [(ts(2026, 6, 1), ts(2026, 6, 5))]),
    ("interval with phase", ScheduleSpec(interval=[IntervalSpec(interval=seconds(2700), phase=seconds(600))]),
     [(ts(2026, 7, 1), ts(2026, 7, 2))]),
    ("weekly interval", ScheduleSpec(interval=[IntervalSpec(interval=seconds(7 * 86400), phase=seconds(3 * 86400))]),
     [YEAR]),
    ("structured calendar with steps", ScheduleSpec(structured_calendar=[structured(
        second=[dict(start=0)], minute=[dict(start=0, end=45, step=15)], hour=[dict(start=8, end=18, step=5)],
        day_of_week=[dict(start=1, end=5)], comment="office hours")]), [(ts(2026, 2, 27), ts(2026, 3, 3))]),
    ("leap day", ScheduleSpec(structured_calendar=[structured(
        month=[dict(start=2)], day_of_month=[dict(start=29)], year=[dict(start=2026, end=2032)])]),
     [(ts(2026, 1, 1), ts(2033, 1, 1))]),
    ("string calendar", ScheduleSpec(calendar=[CalendarSpec(
        second="30", minute="*/20", hour="9-10", day_of_month="*", month="*", day_of_week="TUE,THU")]),
     [(ts(2026, 9, 1), ts(2026, 9, 8))]),
    ("string calendar defaults", ScheduleSpec(calendar=[CalendarSpec(hour="12")]), [(ts(2026, 9, 1), ts(2026, 9, 4))]),
    ("exclusions", ScheduleSpec(cron_string=["0 * * * *"], exclude_structured_calendar=[structured(
        hour=[dict(start=12, end=13)], minute=[dict(start=0, end=59)], second=[dict(start=0, end=59)])]),
     [(ts(2026, 4, 1), ts(2026, 4, 2))]),
    ("start and end time", ScheduleSpec(interval=[IntervalSpec(interval=seconds(3600))],
                                        start_time=ts(2026, 5, 1, 5), end_time=ts(2026, 5, 1, 9)),
     [(ts(2026, 5, 1), ts(2026, 5, 2))]),
    ("half-hour DST zone", cron("0 2 * * *", zone="Australia/Lord_Howe"), [(ts(2026, 4, 1), ts(2026, 4, 8)),
                                                                         (ts(2026, 9, 30), ts(2026, 10, 7))]),
    ("invalid cron field", cron("61 * * * *"), []),
    ("invalid cron text", cron("every day please"), []),
    ("unknown time zone", cron("0 * * * *", zone="Mars/Olympus"), []),
    ("conflicting zones", cron("CRON_TZ=Europe/Paris 0 * * * *", zone="Asia/Tokyo"), []),
    ("calendar out of range", ScheduleSpec(structured_calendar=[structured(hour=[dict(start=25)])]), []),
    ("zero interval", ScheduleSpec(interval=[IntervalSpec(interval=seconds(0))]), []),
    ("phase not below interval", ScheduleSpec(interval=[IntervalSpec(interval=seconds(60), phase=seconds(60))]), []),
]


# Policies as sent; what DescribeSchedule shows of them is compared.
POLICIES = [
    ("no policies", None),
    ("every policy", SchedulePolicies(overlap_policy=3, catchup_window=seconds(3600), pause_on_failure=True,
                                      keep_original_workflow_id=True)),
    ("catchup window below the minimum", SchedulePolicies(catchup_window=seconds(5))),
    ("overlap policy only", SchedulePolicies(overlap_policy=5)),
]


def schedule_of(spec: ScheduleSpec, policies: SchedulePolicies | None = None) -> Schedule:
    return Schedule(
        spec=spec,
        policies=policies,
        action=ScheduleAction(start_workflow=NewWorkflowExecutionInfo(
            workflow_id="differential-schedule", workflow_type=WorkflowType(name="Never"),
            task_queue=TaskQueue(name="differential-schedules-nobody-polls"))),
    )


async def try_spec(client: Client, schedule_id: str, spec: ScheduleSpec, windows: list):
    """(canonical spec, matching times per window), or the refusal's status code."""
    try:
        await client.workflow_service.create_schedule(CreateScheduleRequest(
            namespace=client.namespace, schedule_id=schedule_id, schedule=schedule_of(spec),
            identity="differential", request_id=str(uuid.uuid4())))
    except RPCError as error:
        return ("refused", error.status.name)
    described = await client.workflow_service.describe_schedule(
        DescribeScheduleRequest(namespace=client.namespace, schedule_id=schedule_id))
    canonical = MessageToDict(described.schedule.spec)
    times = []
    for start, end in windows:
        response = await client.workflow_service.list_schedule_matching_times(ListScheduleMatchingTimesRequest(
            namespace=client.namespace, schedule_id=schedule_id, start_time=start, end_time=end))
        times.append([t.ToJsonString() for t in response.start_time])
    await client.workflow_service.delete_schedule(
        DeleteScheduleRequest(namespace=client.namespace, schedule_id=schedule_id, identity="differential"))
    return ("accepted", canonical, times)


async def described_policies(client: Client, schedule_id: str, policies: SchedulePolicies | None) -> dict:
    spec = ScheduleSpec(interval=[IntervalSpec(interval=seconds(3600))])
    await client.workflow_service.create_schedule(CreateScheduleRequest(
        namespace=client.namespace, schedule_id=schedule_id, schedule=schedule_of(spec, policies),
        identity="differential", request_id=str(uuid.uuid4())))
    described = await client.workflow_service.describe_schedule(
        DescribeScheduleRequest(namespace=client.namespace, schedule_id=schedule_id))
    await client.workflow_service.delete_schedule(
        DeleteScheduleRequest(namespace=client.namespace, schedule_id=schedule_id, identity="differential"))
    return MessageToDict(described.schedule.policies)


async def main(args) -> None:
    temper = await Client.connect(args.address, namespace=args.namespace)
    temporal = await Client.connect(args.reference, namespace=args.namespace)
    differences = []
    for name, spec, windows in SPECS:
        schedule_id = new_id("differential")
        ours = await try_spec(temper, schedule_id, spec, windows)
        theirs = await try_spec(temporal, schedule_id, spec, windows)
        if ours != theirs:
            differences.append(f"{name}:\n  Temper:   {ours}\n  Temporal: {theirs}")
        else:
            summary = ours[1] if ours[0] == "refused" else f"{sum(len(t) for t in ours[2])} matching times"
            log(f"{name}: same ({summary})")
    for name, policies in POLICIES:
        schedule_id = new_id("differential-policies")
        ours = await described_policies(temper, schedule_id, policies)
        theirs = await described_policies(temporal, schedule_id, policies)
        if ours != theirs:
            differences.append(f"policies, {name}:\n  Temper:   {ours}\n  Temporal: {theirs}")
        else:
            log(f"policies, {name}: same ({ours})")
    check(not differences, "schedules described differently:\n" + "\n".join(differences))
    check_eq(len(SPECS), 27, "specs compared")


def add_arguments(parser) -> None:
    parser.add_argument("--reference", required=True, help="Temporal's dev server to compare with")


if __name__ == "__main__":
    run_scenario(main, "schedule specs evaluated as Temporal's dev server evaluates them", timeout=120.0,
                 add_arguments=add_arguments)
