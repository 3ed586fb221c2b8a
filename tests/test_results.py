"""Waiting for results: blocking on a per-job nudge, not a sleep-poll loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobCanceled, JobStatus, NoSuchJobError
from tests import tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def test_result_times_out_when_no_worker_runs(queue: AsyncQueue) -> None:
    job = await queue.enqueue(tasks.add, 1, 2)
    with pytest.raises(TimeoutError):
        await job.result(timeout=0.2)


async def test_waiting_for_a_result_blocks_instead_of_polling(
    queue: AsyncQueue, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.add, 1, 2)
    with redis.Redis.from_url(redis_url) as client:
        before = client.info("commandstats")
        with pytest.raises(TimeoutError):
            await job.result(timeout=1.0)
        after = client.info("commandstats")
    def calls(stats: dict[str, Any], command: str) -> int:
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    assert calls(after, "ssubscribe") - calls(before, "ssubscribe") == 1
    assert calls(after, "evalsha") - calls(before, "evalsha") == 1  # one look, then a wait


async def test_every_waiter_on_a_job_wakes(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.sleep_and_count, 0.3)
    waiters = [asyncio.create_task(job.result(timeout=5)) for _ in range(3)]
    await asyncio.sleep(0.1)
    async with running_worker(queue.name):
        assert await asyncio.gather(*waiters) == [None, None, None]


async def test_result_of_a_job_that_ended_long_ago_returns_at_once(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.add, 4, 4)
    async with running_worker(queue.name):
        await job.result(timeout=5)
    assert await job.result(timeout=0.01) == 8


async def test_result_of_a_canceled_job_raises_job_canceled(queue: AsyncQueue) -> None:
    job = await queue.enqueue(tasks.add, 1, 1)
    waiter = asyncio.create_task(job.result(timeout=5))
    await asyncio.sleep(0.05)
    assert await job.cancel() is True
    with pytest.raises(JobCanceled):
        await waiter
    assert await queue.queued_job_ids() == []


async def test_a_started_job_is_canceled_too(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    """(More in tests/test_cancel_running.py.)"""
    job = await queue.enqueue(tasks.sleep_and_count, 0.3)
    async with running_worker(queue.name, grace=5):
        while await job.get_status() is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        assert await job.cancel() is True
        with pytest.raises(JobCanceled):
            await job.result(timeout=5)


async def test_result_ttl_zero_keeps_nothing(
    queue: AsyncQueue, running_worker: WorkerFactory, redis: Redis) -> None:
    job = await queue.enqueue(tasks.add, 1, 1, result_ttl=0)
    async with running_worker(queue.name):
        with pytest.raises(NoSuchJobError, match="was not kept"):
            await job.result(timeout=5)
    assert not await redis.exists(queue.keys.job(job.id))


async def test_refresh_reloads_the_job(queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    job = await queue.enqueue(tasks.add, 2, 2)
    async with running_worker(queue.name):
        await job.result(timeout=5)
    await job.refresh()
    assert job.status is JobStatus.FINISHED
    assert job.raw_result == b"4"


async def test_unknown_job_ids_raise_no_such_job(queue: AsyncQueue) -> None:
    with pytest.raises(NoSuchJobError):
        await queue.fetch_job("nope")
    with pytest.raises(NoSuchJobError):
        await queue.wait_for_result("nope", timeout=1)
