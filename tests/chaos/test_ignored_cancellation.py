"""A job that swallows cancellation (``except CancelledError: pass`` in a loop): its
timeout is still recorded at its deadline and its slot freed, and the worker still stops
within its grace period on SIGTERM, or promptly on a second signal."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest

from tests.chaos import fault_jobs, jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

LEASE = 10.0
TIMEOUT = 1.0
MARGIN = 1.5  # for recording an outcome, or a process to exit, after its bound
FOREVER = 3600.0


@pytest.mark.timeout(60)
async def test_a_job_ignoring_its_cancellation_fails_at_its_deadline(tmp_path: Path) -> None:
    """At concurrency 1, a job that ignores the cancel of its 1 s timeout fails with
    JobTimeout at its deadline, and the next job runs in its slot."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            worker = await chaos.spawn_ready(concurrency=1, lease=LEASE,
                                             imports=["tests.chaos.fault_jobs"])
            await queue.enqueue(fault_jobs.ignore_cancel, "stubborn", FOREVER,
                                job_id="stubborn", job_timeout=TIMEOUT)
            await queue.enqueue(jobs.work, "next", 100, 3, job_id="next")
            await chaos.settle(lambda: chaos.finished_count() == 1, TIMEOUT + 10)
        verdict = chaos.verify({"next": jobs.expected_value(3)}, failed=["stubborn"])
        stubborn = chaos.job_hash("stubborn")
        took = float(stubborn.get("ended_at") or "inf") - float(stubborn["started_at"])
        chaos.assert_verdict(verdict, f"the stubborn job's outcome was recorded {took:.2f} s "
                                      f"after it started (job_timeout {TIMEOUT:g} s)")
        assert stubborn["exc_type"] == "aqueue.errors.JobTimeout", stubborn
        assert took <= TIMEOUT + MARGIN, f"recorded {took:.2f} s after the start"
        assert worker.alive()


@pytest.mark.timeout(60)
async def test_sigterm_stops_a_worker_whose_job_ignores_cancellation_within_grace(
    tmp_path: Path,
) -> None:
    """SIGTERM with a 1 s grace period: the stubborn job is handed back when the grace
    period ends, and the worker exits (status 0) right after."""
    grace = 1.0
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            worker = await chaos.spawn_ready(concurrency=2, lease=LEASE, grace=grace,
                                             imports=["tests.chaos.fault_jobs"])
            await queue.enqueue(fault_jobs.ignore_cancel, "stubborn", FOREVER,
                                job_id="stubborn")
            await chaos.wait_started("stubborn", worker, 10)
            signalled_at = worker.send(signal.SIGTERM)
            code = await chaos.wait_exit(worker, grace + 10)
        exit_after = (worker.exited_at or 0) - signalled_at
        print(f"exited {exit_after:.2f} s after SIGTERM (grace {grace:g} s)")
        assert code == 0, f"exit status {code}:\n{worker.tail(30)}"
        assert exit_after <= grace + MARGIN, (
            f"the worker exited {exit_after:.2f} s after SIGTERM (grace {grace:g} s)")
        fields = chaos.job_hash("stubborn")
        assert (fields["status"], fields["deliveries"]) == ("queued", "0"), (
            f"the stubborn job was not handed back: {fields}")


@pytest.mark.timeout(60)
async def test_a_second_signal_ends_a_worker_whose_job_ignores_cancellation_promptly(
    tmp_path: Path,
) -> None:
    """SIGTERM with a 30 s grace period, then SIGTERM again: the worker hands the stubborn
    job back and exits (status 0) at once."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            worker = await chaos.spawn_ready(concurrency=2, lease=LEASE, grace=30,
                                             imports=["tests.chaos.fault_jobs"])
            await queue.enqueue(fault_jobs.ignore_cancel, "stubborn", FOREVER,
                                job_id="stubborn")
            await chaos.wait_started("stubborn", worker, 10)
            worker.send(signal.SIGTERM)
            await anyio.sleep(0.3)
            signalled_at = worker.send(signal.SIGTERM)
            code = await chaos.wait_exit(worker, 15)
        exit_after = (worker.exited_at or 0) - signalled_at
        print(f"exited {exit_after:.2f} s after the second SIGTERM")
        assert code == 0, f"exit status {code}:\n{worker.tail(30)}"
        assert exit_after <= MARGIN, (
            f"the worker exited {exit_after:.2f} s after the second SIGTERM")
        fields = chaos.job_hash("stubborn")
        assert (fields["status"], fields["deliveries"]) == ("queued", "0"), (
            f"the stubborn job was not handed back: {fields}")
