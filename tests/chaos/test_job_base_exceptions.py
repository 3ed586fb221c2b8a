"""Jobs raising BaseException (SystemExit, KeyboardInterrupt, or another subclass), from
their coroutine, their thread or a task they started: each such job fails with the
exception's type and message, and the worker and its other jobs carry on. A real SIGINT
still stops the worker gracefully."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.chaos import fault_jobs, jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

LEASE = 10.0
GOOD_MS = 1500  # still running when the bad jobs raise


def exc_type_name(kind: str) -> str:
    return kind if kind in ("SystemExit", "KeyboardInterrupt") else (
        f"tests.chaos.fault_jobs.{kind}")


@pytest.mark.timeout(60)
async def test_base_exceptions_raised_by_jobs_fail_only_those_jobs(tmp_path: Path) -> None:
    """A burst worker claims four good 1.5 s jobs and seven bad ones at once: each of the
    three kinds raised by a coroutine and by a plain def, and SystemExit raised by a
    background task a job started. The bad ones fail, the good ones finish, the worker
    exits by itself."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            expected: dict[str, int] = {}
            for i in range(4):
                tag = f"good-{i}"
                good = jobs.work if i % 2 == 0 else jobs.work_sync
                await queue.enqueue(good, tag, GOOD_MS, i, job_id=tag)
                expected[tag] = jobs.expected_value(i)
            bad: dict[str, tuple[str, str]] = {}  # tag -> (exc_type, message)
            for kind in fault_jobs.KINDS:
                for fn, where in ((fault_jobs.raise_base, "async"),
                                  (fault_jobs.raise_base_sync, "sync")):
                    tag = f"{kind}-{where}"
                    message = f"{kind} raised by a {where} job"
                    await queue.enqueue(fn, tag, kind, message, job_id=tag)
                    bad[tag] = (exc_type_name(kind), message)
            message = "SystemExit raised by a task the job started"
            await queue.enqueue(fault_jobs.exit_in_background, "background", message,
                                job_id="background")
            bad["background"] = ("SystemExit", message)

            worker = chaos.spawn(concurrency=len(expected) + len(bad), lease=LEASE,
                                 imports=["tests.chaos.fault_jobs"], extra_args=["--burst"])
            code = await chaos.wait_exit(worker, 30)
        verdict = chaos.verify(expected, failed=bad)
        chaos.assert_verdict(verdict, f"burst worker exited with {code}")
        assert code == 0, f"exit status {code}:\n{worker.tail(30)}"
        for tag, (exc_type, message) in bad.items():
            fields = chaos.job_hash(tag)
            assert (fields.get("exc_type"), fields.get("exc_message")) == (exc_type, message), (
                f"job {tag}: recorded {fields.get('exc_type')}: {fields.get('exc_message')}")
        assert verdict.duplicates == 0
        starts = chaos.runs(bad)
        assert all(len(runs) == 1 for runs in starts.values()), starts


@pytest.mark.timeout(60)
async def test_sigint_stops_the_worker_gracefully_after_a_job_raised_keyboard_interrupt(
    tmp_path: Path,
) -> None:
    """A job's own KeyboardInterrupt fails that job; a real SIGINT to the worker later
    still lets its running job finish, and the worker exits with status 0."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            worker = await chaos.spawn_ready(concurrency=4, lease=LEASE, grace=10,
                                             imports=["tests.chaos.fault_jobs"])
            await queue.enqueue(fault_jobs.raise_base, "interrupt", "KeyboardInterrupt",
                                "job interrupted", job_id="interrupt")
            await chaos.wait_for(
                lambda: chaos.job_hash("interrupt").get("status") == "failed", 10,
                f"the KeyboardInterrupt job to fail\n{worker.tail(30)}")
            await queue.enqueue(jobs.work, "long", 2000, 5, job_id="long")
            await chaos.wait_started("long", worker, 10)
            worker.send(signal.SIGINT)
            code = await chaos.wait_exit(worker, 15)
        verdict = chaos.verify({"long": jobs.expected_value(5)}, failed=["interrupt"])
        chaos.assert_verdict(verdict, f"worker exited with {code} after SIGINT")
        assert code == 0, f"exit status {code}:\n{worker.tail(30)}"
        assert "SIGINT: finishing 1 running jobs" in worker.log(), worker.tail(30)
