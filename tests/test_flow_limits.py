"""Pause, rate limits and concurrency caps, for a whole queue and per limit key, across
workers; a held-back job stays in Redis and workers are woken when it may run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from aqueue import AsyncQueue, Job, JobStatus
from aqueue.flow import Rate
from tests import flow_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def spans(queue: AsyncQueue, jobs: list[Job[Any]]) -> list[tuple[float, float]]:
    """(started_at, ended_at) of each job, by Redis's clock."""
    out = []
    for job in jobs:
        stored = await queue.fetch_job(job.id)
        assert stored.started_at is not None and stored.ended_at is not None
        out.append((stored.started_at, stored.ended_at))
    return out


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


async def test_a_paused_queue_starts_nothing_until_resumed(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        await queue.pause()
        assert await queue.is_paused()
        job = await queue.enqueue(flow_tasks.note, "held")
        await asyncio.sleep(0.5)
        assert await queue.get_status(job.id) is JobStatus.QUEUED
        resumed = time.monotonic()
        await queue.resume()
        assert await job.result(timeout=5) == "held"
        assert time.monotonic() - resumed < 1.0  # the marker woke the idle worker


async def test_pausing_lets_running_jobs_finish(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        running = await queue.enqueue(flow_tasks.hold, 0.3)
        while await queue.get_status(running.id) is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        await queue.pause()
        assert await running.result(timeout=5) == 0.3


async def test_a_queue_rate_limit_holds_across_workers_and_wakes_them_at_the_window_end(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    await queue.set_limits(rate=Rate(4, per=0.5))
    jobs = await queue.enqueue_many([queue.prepare(flow_tasks.note, str(i)) for i in range(16)])
    start = time.monotonic()
    async with running_worker(queue.name, imports=["tests.flow_tasks"]), \
            running_worker(queue.name, imports=["tests.flow_tasks"]):
        for job in jobs:
            await job.result(timeout=10)
    elapsed = time.monotonic() - start
    starts = sorted(s for s, _ in await spans(queue, jobs))
    windows: dict[int, int] = {}
    for s in starts:
        windows[int(s // 0.5)] = windows.get(int(s // 0.5), 0) + 1
    assert max(windows.values()) == 4
    assert 1.0 < elapsed < 3.0  # 4 windows of 0.5 s (the first partial); no 5 s idle waits


async def test_a_queue_concurrency_cap_holds_across_workers(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    await queue.set_limits(concurrency=3)
    jobs = await queue.enqueue_many([queue.prepare(flow_tasks.hold, 0.1) for _ in range(24)])
    async with running_worker(queue.name, imports=["tests.flow_tasks"], concurrency=10), \
            running_worker(queue.name, imports=["tests.flow_tasks"], concurrency=10):
        for job in jobs:
            await job.result(timeout=10)
    assert most_at_once(await spans(queue, jobs)) == 3


async def test_a_per_key_cap_holds_and_a_small_tenant_is_not_starved(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    await queue.set_limits(key_concurrency=2)
    big = await queue.enqueue_many([queue.prepare(flow_tasks.hold, 0.05, limit_key="big")
                                    for _ in range(60)])
    small = await queue.enqueue_many([queue.prepare(flow_tasks.hold, 0.05, limit_key="small")
                                      for _ in range(5)])
    async with running_worker(queue.name, imports=["tests.flow_tasks"], concurrency=10):
        for job in small + big:
            await job.result(timeout=20)
    big_spans, small_spans = await spans(queue, big), await spans(queue, small)
    assert most_at_once(big_spans) == 2
    assert most_at_once(small_spans) == 2
    tenth_big_start = sorted(s for s, _ in big_spans)[9]
    assert max(e for _, e in small_spans) < tenth_big_start  # served in turn, not after


async def test_a_per_key_rate_limit_counts_each_key_on_its_own(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    await queue.set_limits(key_rate="2/0.5s")
    jobs = {key: await queue.enqueue_many([queue.prepare(flow_tasks.note, key, limit_key=key)
                                           for _ in range(6)]) for key in ("a", "b")}
    start = time.monotonic()
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        for group in jobs.values():
            for job in group:
                await job.result(timeout=10)
    assert time.monotonic() - start < 3.0
    for group in jobs.values():
        starts = [s for s, _ in await spans(queue, group)]
        per_window: dict[int, int] = {}
        for s in starts:
            per_window[int(s // 0.5)] = per_window.get(int(s // 0.5), 0) + 1
        assert max(per_window.values()) == 2


async def test_limits_are_read_back_and_cleared(queue: AsyncQueue) -> None:
    limits = await queue.set_limits(rate="600/m", concurrency=5, key_concurrency=2)
    assert (limits.rate, limits.concurrency, limits.key_concurrency) == (Rate(600, 60.0), 5, 2)
    assert (await queue.limits()).describe() == \
        "rate 600/60s, concurrency 5, per-key concurrency 2"
    assert (await queue.set_limits()).describe() == "no limits"
    with pytest.raises(ValueError, match="cannot read the rate"):
        await queue.set_limits(rate="fast")
    with pytest.raises(ValueError, match="concurrency cap"):
        await queue.set_limits(concurrency=0)


async def test_a_killed_worker_gives_its_concurrency_slots_back_when_its_lease_expires(
        queue: AsyncQueue, redis_url: str, running_worker: WorkerFactory) -> None:
    await queue.set_limits(concurrency=1, key_concurrency=1)
    held = await queue.enqueue(flow_tasks.stall_first_delivery, "held", limit_key="t1")
    waiting = await queue.enqueue(flow_tasks.note, "waiting", limit_key="t1")
    victim = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", queue.name, "--url", redis_url,
         "--import", "tests.flow_tasks", "--lease", "1.5"], cwd=ROOT,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while await queue.get_status(held.id) is not JobStatus.STARTED:
            assert time.monotonic() < deadline, "the worker process never started the job"
            await asyncio.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        killed = time.monotonic()
        async with running_worker(queue.name, imports=["tests.flow_tasks"], lease=1.5):
            assert await held.result(timeout=15) == "held"  # redelivered: the slot came back
            assert await waiting.result(timeout=5) == "waiting"
        assert time.monotonic() - killed < 10
    finally:
        if victim.poll() is None:
            victim.kill()
