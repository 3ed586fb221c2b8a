"""A worker frozen (SIGSTOP) past its lease loses its jobs to another worker; when it
wakes (SIGCONT) and finishes them late, its results are rejected and it says so."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.chaos import jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

LEASE = 2.0
REAP_INTERVAL = min(LEASE / 3, 5.0)


@pytest.mark.timeout(60)
async def test_stalled_worker_late_finish_is_rejected(tmp_path: Path) -> None:
    """``early`` (async, 3 s): the stalled worker finishes it after the other worker did.
    ``late`` (sync, 6 s): it finishes it while the other worker still runs it."""
    durations = {"early": 3000, "late": 6000}
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            a = await chaos.spawn_ready(concurrency=2, lease=LEASE)
            await queue.enqueue(jobs.work, "early", durations["early"], 1, job_id="early")
            await queue.enqueue(jobs.work_sync, "late", durations["late"], 2, job_id="late")
            expected = {"early": jobs.expected_value(1), "late": jobs.expected_value(2)}
            for tag in expected:
                await chaos.wait_started(tag, a, 10)
            chaos.disrupted.add(a.pid)
            stopped_at = a.send(signal.SIGSTOP)
            b = await chaos.spawn_ready(concurrency=2, lease=LEASE)
            recovery = {}
            for tag in expected:
                run = await chaos.wait_started(tag, b, LEASE + REAP_INTERVAL + 5)
                recovery[tag] = run.at - stopped_at

            await chaos.wait_for(lambda: chaos.job_hash("early").get("status") == "finished",
                                 durations["early"] / 1000 + 5, "early to finish on b")
            assert chaos.job_hash("late").get("status") == "started", "late ended too soon"
            a.send(signal.SIGCONT)
            for tag in expected:
                await chaos.wait_discarded(a, tag, 10)
            late_finish_by_a = {tag: any(run.pid == a.pid for run in runs)
                                for tag, runs in chaos.runs(expected, "ends").items()}
            await chaos.wait_for(lambda: chaos.finished_count() >= 2,
                                 durations["late"] / 1000 + 5, "late to finish on b")
        verdict = chaos.verify(expected)
        times = ", ".join(f"{tag} {seconds:.2f} s" for tag, seconds in recovery.items())
        chaos.assert_verdict(verdict, f"taken over {times} after SIGSTOP (lease {LEASE:g} s)")
        assert late_finish_by_a == {"early": True, "late": True}, (
            f"the stalled worker did not finish its jobs after SIGCONT: {late_finish_by_a}")
        for tag in expected:
            fields = chaos.job_hash(tag)
            assert chaos.holder_of(fields["token"]) == b.name, fields
            assert fields["deliveries"] == "2", fields
        assert verdict.duplicates == 2
        assert a.alive() and b.alive()
