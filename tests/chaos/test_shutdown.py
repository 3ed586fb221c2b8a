"""SIGTERM with jobs running: they finish within the grace period; or, when the grace
period is short (or a second signal comes), they are handed back at once and another
worker runs them, without waiting for a lease to expire."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos import jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

LEASE = 10.0  # far longer than any wait below: a re-run here is a hand-back, not a reap


@pytest.mark.timeout(60)
async def test_sigterm_running_jobs_finish_within_grace(tmp_path: Path) -> None:
    """Six 1.5 s jobs running, four queued: SIGTERM lets the six finish (the worker exits
    soon after, with status 0) and claims none of the four."""
    job_ms, running, queued = 1500, 6, 4
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            a = await chaos.spawn_ready(concurrency=running, lease=LEASE, grace=10)
            expected: dict[str, int] = {}
            for i in range(running + queued):
                tag = f"job-{i}"
                fn = jobs.work if i % 2 == 0 else jobs.work_sync
                await queue.enqueue(fn, tag, job_ms, i, job_id=tag)
                expected[tag] = jobs.expected_value(i)
            await chaos.wait_for(
                lambda: sum(1 for runs in chaos.runs(expected).values() if runs) == running,
                10, f"{running} jobs to start")
            first = {tag for tag, runs in chaos.runs(expected).items() if runs}
            sigterm_at = a.send(signal.SIGTERM)
            code = await chaos.wait_exit(a, job_ms / 1000 + 10)
            exit_after = (a.exited_at or 0) - sigterm_at
            assert {tag for tag, runs in chaos.runs(expected).items() if runs} == first, (
                "the worker claimed jobs after SIGTERM")
            last_end = max(run.at for tag, runs in chaos.runs(first, "ends").items()
                           for run in runs)
            b = await chaos.spawn_ready(concurrency=running, lease=LEASE)
            await chaos.settle(lambda: chaos.finished_count() >= len(expected), 10)
        verdict = chaos.verify(expected)
        chaos.assert_verdict(verdict, f"worker exited {exit_after:.2f} s after SIGTERM with "
                                      f"{running} jobs of {job_ms / 1000:g} s running, "
                                      f"{(a.exited_at or 0) - last_end:.2f} s after the last "
                                      "ended")
        assert code == 0, f"exit status {code}:\n{a.tail(30)}"
        assert f"SIGTERM: finishing {running} running jobs" in a.log()
        assert exit_after <= job_ms / 1000 + 1.0, (
            f"the worker took {exit_after:.2f} s to exit after SIGTERM; its jobs needed "
            f"at most {job_ms / 1000:g} s")
        for tag in expected:
            holder = chaos.holder_of(chaos.job_hash(tag)["token"])
            assert holder == (a.name if tag in first else b.name), (tag, holder)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["short-grace", "second-signal"])
async def test_sigterm_hands_running_jobs_back(tmp_path: Path, how: str) -> None:
    """Four 4 s jobs (two async, two sync) running. ``short-grace``: SIGTERM with a 0.5 s
    grace period. ``second-signal``: a 30 s grace period, and SIGTERM twice. Either way
    the jobs are handed back at once, another worker runs them, and the first exits."""
    job_ms, n_jobs = 4000, 4
    grace = 0.5 if how == "short-grace" else 30.0
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            a = await chaos.spawn_ready(concurrency=n_jobs, lease=LEASE, grace=grace)
            expected: dict[str, int] = {}
            for i in range(n_jobs):
                tag = f"job-{i}"
                fn = jobs.work if i % 2 == 0 else jobs.work_sync
                await queue.enqueue(fn, tag, job_ms, i, job_id=tag)
                expected[tag] = jobs.expected_value(i)
            for tag in expected:
                await chaos.wait_started(tag, a, 10)
            b = await chaos.spawn_ready(concurrency=n_jobs, lease=LEASE)
            chaos.disrupted.add(a.pid)
            signalled_at = a.send(signal.SIGTERM)
            if how == "second-signal":
                await anyio.sleep(0.3)
                signalled_at = a.send(signal.SIGTERM)
                handed_back_after = 0.0
                log_line = f"SIGTERM again: handing {n_jobs} running jobs back"
            else:
                handed_back_after = grace
                log_line = f"grace period over: handing {n_jobs} running jobs back"
            bound = handed_back_after + 1.0
            rerun_after = {}
            for tag in expected:
                run = await chaos.wait_started(tag, b, bound + 5)
                rerun_after[tag] = run.at - signalled_at
            code = await chaos.wait_exit(a, job_ms / 1000 + 10)
            exit_after = (a.exited_at or time.time()) - signalled_at
            await chaos.settle(lambda: chaos.finished_count() >= n_jobs, job_ms / 1000 + 5)
        verdict = chaos.verify(expected)
        times = ", ".join(f"{tag} {seconds:.2f} s" for tag, seconds in rerun_after.items())
        chaos.assert_verdict(verdict, f"{how}: re-run by the other worker {times} after the "
                                      f"signal; first worker exited after {exit_after:.2f} s")
        assert code == 0, f"exit status {code}:\n{a.tail(30)}"
        assert log_line in a.log(), a.tail(30)
        assert verdict.duplicates == n_jobs
        for tag, seconds in rerun_after.items():
            assert seconds <= bound, f"{tag} re-run {seconds:.2f} s after the signal (> {bound})"
        for tag in expected:  # a hand-back does not count as a delivery
            fields = chaos.job_hash(tag)
            assert chaos.holder_of(fields["token"]) == b.name, fields
            assert fields["deliveries"] == "1", fields
        assert exit_after <= bound + 1.0, (
            f"the worker exited {exit_after:.2f} s after the signal, though its jobs were "
            f"handed back after {handed_back_after:g} s: it waited for its abandoned "
            "threads (sync jobs) to return")
