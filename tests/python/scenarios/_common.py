"""Shared plumbing for the compatibility scenarios (see __init__.py for how to run them).

Only plumbing lives here: argument parsing, connecting, unique ids, assertions
with clear messages, waiting for conditions and reading histories. The
Temporal-facing code of each scenario (workflows, activities, client calls)
stays in the scenario file, written the way a Temporal user would write it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import traceback
import uuid
from collections import Counter
from typing import Any, Awaitable, Callable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode


class ScenarioFailure(AssertionError):
    """A check of the scenario did not hold."""


def check(condition: Any, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


def check_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise ScenarioFailure(f"{what}: expected {expected!r}, got {actual!r}")


def new_id(prefix: str) -> str:
    """A random id, so scenarios never collide (task queues, workflow ids)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def error_chain(err: BaseException | None) -> str:
    """`WorkflowFailureError('...') <- ActivityError('...') <- ...` for messages."""
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}({str(err)!r})")
        err = err.__cause__
    return " <- ".join(parts) if parts else "<no error>"


def event_type_name(event_type: int) -> str:
    """EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> WorkflowExecutionStarted."""
    name = EventType.Name(event_type)
    name = name.removeprefix("EVENT_TYPE_")
    return "".join(word.capitalize() for word in name.split("_"))


def event_types(history: History) -> list[str]:
    return [event_type_name(e.event_type) for e in history.events]


def workflow_tasks_completed(handle, count: int) -> Callable[[], Awaitable[bool]]:
    """A `wait_for` condition: the run has completed `count` workflow tasks."""

    async def reached() -> bool:
        return event_types(await handle.fetch_history()).count("WorkflowTaskCompleted") >= count

    return reached


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float = 20.0,
    interval: float = 0.05,
) -> None:
    """Poll `condition` until it returns True; fail clearly after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise ScenarioFailure(f"timed out after {timeout}s waiting for: {what}")
        await asyncio.sleep(interval)


class UnavailableRetrier:
    """Runs RPCs as a user's program does while the server answers
    UNAVAILABLE: again, after growing pauses, for up to `window` seconds.
    Any other error is raised at once. Counts the retries per call."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.retries: Counter = Counter()

    async def __call__(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.window
        delay = 0.1
        while True:
            try:
                return await call()
            except RPCError as err:
                if err.status != RPCStatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                if self.retries[what] == 0:
                    log(f"{what}: {err.status.name} ({err.message}); retrying until it works")
                self.retries[what] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def summary(self) -> str:
        return f"{len(self.retries)} ({sum(self.retries.values())} retries)"


async def expect_rpc_error(
    what: str,
    call,
    status: RPCStatusCode,
    message_mentions: str | None = None,
    detail_type: str | None = None,
) -> RPCError:
    """Await `call`; it must raise RPCError with `status` and a clear message."""
    try:
        response = await call
    except RPCError as err:
        details = [d.type_url.rsplit("/", 1)[-1] for d in err.grpc_status.details]
        log(f"{what}: {err.status.name} {err.message!r} details={details}")
        check_eq(err.status, status, f"{what}: status code")
        check(err.message.strip(), f"{what}: the error message is empty")
        if message_mentions is not None:
            check(
                message_mentions.lower() in err.message.lower(),
                f"{what}: message {err.message!r} should mention {message_mentions!r}",
            )
        if detail_type is not None:
            check(
                detail_type in details,
                f"{what}: error details should contain {detail_type}, got {details}",
            )
        return err
    raise AssertionError(f"{what}: expected {status.name}, but the call succeeded: {response}")


# Workers' own clients, by the client the scenario connected (see for_worker).
_WORKER_CLIENTS: dict[int, Client] = {}


async def connect(args: argparse.Namespace) -> Client:
    """The scenario's client. With --worker-address, its workers connect
    there instead (another gateway of a cluster): see for_worker."""
    client = await Client.connect(args.address, namespace=args.namespace)
    if getattr(args, "worker_address", None):
        _WORKER_CLIENTS[id(client)] = await Client.connect(args.worker_address, namespace=args.namespace)
    return client


def for_worker(client: Client) -> Client:
    """The client a scenario's worker polls through: the one --worker-address
    names when given, else the scenario's own."""
    return _WORKER_CLIENTS.get(id(client), client)


def run_scenario(
    main: Callable[[argparse.Namespace], Awaitable[None]],
    description: str,
    timeout: float = 60.0,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Parse the common arguments, run `main(args)` with an overall timeout, exit.

    Exit status 0 and a final `SCENARIO PASSED` line on success; exit status 1,
    the traceback and a `SCENARIO FAILED: ...` line otherwise.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--address", required=True, help="frontend gRPC address, HOST:PORT"
    )
    parser.add_argument("--namespace", default="default")
    parser.add_argument(
        "--worker-address",
        help="HOST:PORT the scenario's workers poll through (default: --address)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=timeout,
        help=f"overall time limit in seconds (default {timeout})",
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    name = os.path.basename(sys.argv[0])
    log(f"{name}: {description} (server {args.address}, namespace {args.namespace})")
    code = 0
    try:
        asyncio.run(asyncio.wait_for(main(args), args.timeout))
    except asyncio.TimeoutError:
        traceback.print_exc()
        print(
            f"SCENARIO FAILED: {name} did not finish within {args.timeout}s",
            flush=True,
        )
        code = 1
    except BaseException as err:  # noqa: BLE001 - report everything, then exit 1
        traceback.print_exc()
        print(f"SCENARIO FAILED: {name}: {error_chain(err)}", flush=True)
        code = 1
    else:
        print(f"SCENARIO PASSED: {name}", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit instead of a normal interpreter exit: with temporalio 1.35 the
    # SDK's native (Rust) threads occasionally crash the interpreter while it
    # finalizes (SIGSEGV / "PyGILState_Release: thread state ... must be
    # current"), which would turn a passed scenario into a failed one. The
    # scenario's work, output and checks are all complete at this point.
    os._exit(code)
