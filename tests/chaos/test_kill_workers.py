"""Workers SIGKILLed mid-job: nothing is lost, and a killed worker's jobs come back within
one lease (plus one reaper interval)."""

from __future__ import annotations

import functools
import random
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos import jobs
from tests.chaos.harness import Chaos, prepare_work

pytestmark = pytest.mark.anyio

LEASE = 2.0
REAP_INTERVAL = min(LEASE / 3, 5.0)  # how often each worker's scheduler reaps (worker.py)
MARGIN = 0.5


@pytest.mark.timeout(150)
async def test_random_sigkills_while_draining(tmp_path: Path) -> None:
    """Three workers drain 4,500 jobs (10-100 ms, async and sync) while one random worker
    is SIGKILLed about every second and replaced. Every job finishes, with its result."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    n_jobs, workers_wanted = 4500, 3
    with Chaos(tmp_path) as chaos:
        spawn = functools.partial(chaos.spawn, concurrency=10, lease=LEASE, max_deliveries=0)
        async with chaos.queue() as queue:
            prepared, expected = prepare_work(queue, n_jobs, rng, min_ms=10, max_ms=100)
            live = [spawn() for _ in range(workers_wanted)]
            for worker in live:
                await chaos.wait_ready(worker)
            started = time.monotonic()
            await queue.enqueue_many(prepared)
            kills = 0
            deadline = started + 100
            while chaos.finished_count() < n_jobs:
                if time.monotonic() > deadline:
                    raise AssertionError(f"jobs not drained after 100 s (seed {seed})\n"
                                         f"{chaos.describe()}")
                await anyio.sleep(rng.uniform(0.7, 1.3))
                if chaos.finished_count() >= n_jobs:
                    break
                for worker in live:
                    assert worker.alive(), f"worker {worker.name} died:\n{worker.tail(40)}"
                victim = rng.choice(live)
                chaos.kill(victim)
                kills += 1
                live.remove(victim)
                live.append(spawn())
            elapsed = time.monotonic() - started
        verdict = chaos.verify(expected)
        chaos.assert_verdict(verdict, f"{kills} SIGKILLs in {elapsed:.1f} s, seed {seed}")
        assert kills >= 5, f"only {kills} kills happened: the drain was too quick to test much"


@pytest.mark.timeout(60)
async def test_sigkilled_job_rerun_within_lease(tmp_path: Path) -> None:
    """A worker holding two long jobs (one async, one sync) past their first lease is
    SIGKILLed; a second worker runs them again within lease + one reaper interval."""
    job_ms = 4000
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            a = await chaos.spawn_ready(concurrency=2, lease=LEASE)
            expected: dict[str, int] = {}
            for tag, fn in (("long-async", jobs.work), ("long-sync", jobs.work_sync)):
                await queue.enqueue(fn, tag, job_ms, 7, job_id=tag)
                expected[tag] = jobs.expected_value(7)
            for tag in expected:
                await chaos.wait_started(tag, a, 10)
            claimed_at = time.time()
            b = await chaos.spawn_ready(concurrency=2, lease=LEASE)
            # Hold the jobs past their first lease, so the kill also shows the heartbeat
            # renewed them: nobody may have re-run them before it.
            await anyio.sleep(max(0.0, claimed_at + LEASE * 1.25 - time.time()))
            for tag in expected:
                assert chaos.started_by(tag, b.pid) is None, f"{tag} re-run before the kill"
            killed_at = chaos.kill(a)
            bound = LEASE + REAP_INTERVAL + MARGIN
            recovery: dict[str, float] = {}
            for tag in expected:
                rerun = await chaos.wait_started(tag, b, bound + 5)
                recovery[tag] = rerun.at - killed_at
            await chaos.wait_for(lambda: chaos.finished_count() == 2, job_ms / 1000 + 5,
                                 "the re-run jobs to finish")
        verdict = chaos.verify(expected)
        times = ", ".join(f"{tag} {seconds:.2f} s" for tag, seconds in recovery.items())
        chaos.assert_verdict(verdict, f"recovery after SIGKILL: {times} (lease {LEASE:g} s)")
        assert verdict.duplicates == 2
        for tag, seconds in recovery.items():
            assert seconds <= bound, (
                f"{tag} re-run {seconds:.2f} s after the kill; expected within lease {LEASE:g} s "
                f"+ reaper interval {REAP_INTERVAL:.2f} s + {MARGIN} s")
        assert b.alive()
        assert "lease expired (worker died or stalled); requeued" in b.log()
