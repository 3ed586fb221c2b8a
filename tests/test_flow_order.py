"""Priorities, at_front and expiry: which waiting job runs first, and which never runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobStatus, Queue
from aqueue.errors import JobExpired
from tests import flow_tasks
from tests.conftest import BurstRunner

pytestmark = pytest.mark.anyio


async def run_order(queue: AsyncQueue, run_burst: BurstRunner) -> list[str]:
    flow_tasks.reset()
    await run_burst(queue.name, imports=["tests.flow_tasks"], concurrency=1)
    return [label for label, _ in flow_tasks.started]


async def test_higher_priority_runs_first_and_fifo_within_a_priority(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    for label, priority in [("low-1", -3), ("plain-1", 0), ("high-1", 7), ("low-2", -3),
                            ("high-2", 7), ("mid", 2), ("plain-2", 0)]:
        await queue.enqueue(flow_tasks.note, label, priority=priority)
    assert await run_order(queue, run_burst) == [
        "high-1", "high-2", "mid", "plain-1", "plain-2", "low-1", "low-2"]


async def test_at_front_runs_before_the_waiting_jobs_of_its_priority(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    await queue.enqueue(flow_tasks.note, "a")
    await queue.enqueue(flow_tasks.note, "b")
    await queue.enqueue(flow_tasks.note, "urgent", at_front=True)
    await queue.enqueue(flow_tasks.note, "p1", priority=1)
    await queue.enqueue(flow_tasks.note, "p1-front", priority=1, at_front=True)
    assert await run_order(queue, run_burst) == ["p1-front", "p1", "urgent", "a", "b"]


async def test_strict_priority_across_queues_is_kept_with_priorities_inside(
        redis_url: str, run_burst: BurstRunner) -> None:
    async with AsyncQueue("first", url=redis_url) as first, \
            AsyncQueue("second", url=redis_url) as second:
        await second.enqueue(flow_tasks.note, "second-high", priority=100)
        await first.enqueue(flow_tasks.note, "first-low", priority=-100)
        await first.enqueue(flow_tasks.note, "first-plain")
        flow_tasks.reset()
        await run_burst(["first", "second"], imports=["tests.flow_tasks"], concurrency=1)
    assert [label for label, _ in flow_tasks.started] == [
        "first-plain", "first-low", "second-high"]


async def test_a_delayed_prioritized_job_takes_its_place_when_it_is_due(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    await queue.enqueue_in(0.2, flow_tasks.note, "delayed-high", priority=5)
    await queue.enqueue(flow_tasks.note, "plain")
    await asyncio.sleep(0.4)
    await queue.enqueue(flow_tasks.note, "plain-later")
    order = await run_order(queue, run_burst)
    assert order[0] == "plain" or order[0] == "delayed-high"
    assert order.index("delayed-high") < order.index("plain-later")


async def test_counts_include_prioritized_jobs_and_cancel_removes_them(
        queue: AsyncQueue) -> None:
    job = await queue.enqueue(flow_tasks.note, "x", priority=3)
    await queue.enqueue(flow_tasks.note, "y", priority=-3)
    assert (await queue.counts()).queued == 2
    assert await queue.cancel(job.id)
    assert (await queue.counts()).queued == 1
    assert await queue.empty() == 1
    assert (await queue.counts()).queued == 0


async def test_priority_out_of_range_is_refused_before_sending(queue: AsyncQueue) -> None:
    with pytest.raises(ValueError, match="priority takes an int from -1000 to 1000"):
        await queue.enqueue(flow_tasks.note, "x", priority=5000)
    with pytest.raises(TypeError, match="at_front takes True or False"):
        await queue.enqueue(flow_tasks.note, "x", at_front="yes")


async def test_a_job_not_started_before_it_expires_is_recorded_expired_and_not_run(
        queue: AsyncQueue, run_burst: BurstRunner, redis: Redis) -> None:
    stale = await queue.enqueue(flow_tasks.note, "stale", expires=0.05)
    fresh = await queue.enqueue(flow_tasks.note, "fresh", expires=timedelta(minutes=5))
    await asyncio.sleep(0.1)
    assert await run_order(queue, run_burst) == ["fresh"]
    assert (await queue.fetch_job(stale.id)).status is JobStatus.EXPIRED
    assert (await queue.fetch_job(fresh.id)).status is JobStatus.FINISHED
    counts = await queue.counts()
    assert (counts.expired, counts.finished, counts.queued) == (1, 1, 0)
    with pytest.raises(JobExpired):
        await stale.result(timeout=1)
    assert 0 < await redis.ttl(queue.keys.job(stale.id)) <= 500  # kept like a result


async def test_expiry_of_a_delayed_job_counts_from_when_it_is_due(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    job = await queue.enqueue_in(0.3, flow_tasks.note, "delayed", expires=5)
    await asyncio.sleep(0.4)
    assert await run_order(queue, run_burst) == ["delayed"]
    assert (await queue.fetch_job(job.id)).status is JobStatus.FINISHED


async def test_expires_takes_an_aware_datetime(queue: AsyncQueue,
                                               run_burst: BurstRunner) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    job = await queue.enqueue(flow_tasks.note, "late", expires=past)
    assert await run_order(queue, run_burst) == []
    assert (await queue.fetch_job(job.id)).status is JobStatus.EXPIRED
    with pytest.raises(ValueError, match="aware datetime"):
        await queue.enqueue(flow_tasks.note, "x", expires=datetime.now())


async def test_a_waiter_learns_that_the_job_expired(queue: AsyncQueue,
                                                   run_burst: BurstRunner) -> None:
    job = await queue.enqueue(flow_tasks.note, "x", expires=0.05)
    await asyncio.sleep(0.1)
    waiter = asyncio.create_task(job.result(timeout=10))
    await asyncio.sleep(0.05)
    await run_burst(queue.name, imports=["tests.flow_tasks"])
    with pytest.raises(JobExpired):
        await waiter


def test_the_sync_queue_takes_the_same_options(redis_url: str) -> None:
    with Queue("sync-flow", url=redis_url) as q:
        high = q.enqueue(flow_tasks.note, "high", priority=9, expires=60)
        assert q.counts().queued == 1
        assert q.fetch_job(high.id).status is JobStatus.QUEUED
