"""Redis at maxmemory with ``noeviction`` refuses writes (OOM) under running workers: the
workers stop claiming jobs whose outcomes they could not record, nothing fails
WorkerDied, nothing runs more than twice, and everything finishes once memory is freed."""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import pytest
import redis

from tests.chaos.harness import Chaos, chaos_size, prepare_work

pytestmark = pytest.mark.anyio

LEASE = 2.0
OOM_SECONDS = 4 * LEASE  # long enough for leases to run out several times over
PAUSE_WITHIN = 1.0  # a worker notices refused writes within a job's length (< 0.3 s)


def fill_until_oom(r: redis.Redis, written: list[str]) -> None:
    """Write filler keys (appended to ``written``) until Redis refuses even small writes
    with OOM. (A big write can be refused for its own size while small ones still pass.)"""
    for size in (512 * 1024, 1024):
        while True:
            key = f"filler:{len(written)}"
            try:
                r.set(key, b"x" * size)
            except redis.exceptions.OutOfMemoryError:
                break
            written.append(key)
            if len(written) > 100_000:
                raise AssertionError("Redis never refused a write: is maxmemory set?")


async def keep_full(r: redis.Redis, seconds: float) -> list[str]:
    """Fill Redis, and keep it full for ``seconds``: whatever memory is freed meanwhile
    (expiring keys, buffers), the filler takes back within 10 ms. Returns the keys."""
    written: list[str] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        fill_until_oom(r, written)
        await anyio.sleep(0.01)
    return written


@pytest.mark.timeout(150)
async def test_workers_stop_claiming_while_redis_refuses_outcome_writes(tmp_path: Path) -> None:
    """Two workers (lease 2 s, max deliveries 3) drain short jobs; a fifth of the way
    through, Redis (maxmemory 24 MB, noeviction) is filled until it refuses writes, kept
    full for 8 s, then freed."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    n_jobs = chaos_size(100, 1000)
    with Chaos(tmp_path, "--maxmemory", "24mb", "--maxmemory-policy", "noeviction") as chaos:
        workers = [chaos.spawn(concurrency=10, lease=LEASE, max_deliveries=3)
                   for _ in range(2)]
        for worker in workers:
            await chaos.wait_ready(worker)
            chaos.disrupted.add(worker.pid)  # a lease lost to OOM may re-run a job once
        async with chaos.queue() as queue:
            prepared, expected = prepare_work(queue, n_jobs, rng, min_ms=100, max_ms=300)
            await queue.enqueue_many(prepared)
            await chaos.wait_for(lambda: chaos.finished_count() >= n_jobs // 5, 60,
                                 "a fifth of the jobs to finish")
            with chaos.client() as r:
                full_at = time.time()
                written = await keep_full(r, OOM_SECONDS)
                freed_at = time.time()
                r.delete(*written)
            finished_before = chaos.finished_count()
            done = await chaos.settle(
                lambda: chaos.finished_count() + chaos.queue_state()["failed"] >= n_jobs, 60)
            recovered_after = time.time() - freed_at
        verdict = chaos.verify(expected)
        runs = chaos.runs(expected)
        most_runs = max(len(starts) for starts in runs.values())
        started_while_full = sorted(
            tag for tag, starts in runs.items()
            if any(full_at + PAUSE_WITHIN < run.at < freed_at for run in starts))
        note = (f"{len(written)} keys filled Redis; {finished_before} of {n_jobs} "
                f"finished when freed; all finished {recovered_after:.1f} s later: {done}; "
                f"{verdict.duplicates} extra runs; {len(started_while_full)} jobs started "
                f"while Redis was full; seed {seed}")
        chaos.assert_verdict(verdict, note)  # includes: nothing failed (WorkerDied)
        assert most_runs <= 2, f"a job ran {most_runs} times: {note}"
        # Lease renewals run under maxmemory (allow-oom), so no lease expires for it.
        assert verdict.duplicates == 0, f"jobs ran again while Redis was full: {note}"
        assert started_while_full == [], f"claimed while writes were refused: {note}"
        for worker in workers:
            assert worker.alive(), f"worker {worker.name} died:\n{worker.tail(40)}"
            assert "OOM" in worker.log(), f"{worker.name} never saw a refused write"
