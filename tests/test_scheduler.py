"""Delayed and retrying jobs: promoted when due, once, without a polling loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobStatus, Worker
from aqueue.plugins.base import PluginContext
from tests import tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def test_a_delayed_job_runs_once_it_is_due_and_not_before(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    enqueued = time.time()
    job = await queue.enqueue_in(0.5, tasks.add, 1, 2)
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == 3
    stored = await queue.fetch_job(job.id)
    assert stored.started_at is not None
    assert stored.started_at >= enqueued + 0.5


async def test_a_job_due_sooner_wakes_a_sleeping_scheduler(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    await queue.enqueue_in(3600, tasks.add, 0, 0)
    async with running_worker(queue.name) as worker:
        await asyncio.sleep(0.2)  # the scheduler now sleeps until the reap interval
        soon = await queue.enqueue_in(0.2, tasks.add, 1, 1)
        assert await soon.result(timeout=3) == 2
        assert worker.promoter.promoted == 1


async def test_the_promoter_sleeps_between_due_times_instead_of_polling(
    queue: AsyncQueue, redis_url: str, redis: Redis
) -> None:
    await queue.enqueue_in(3600, tasks.add, 0, 0)
    await redis.delete(queue.keys.wake)  # the enqueue's nudge, acted on at start anyway
    async with Worker([queue.name], url=redis_url, imports=["tests.tasks"], lease=30) as worker:
        promotes = 0
        original = worker.promoter.promote

        async def counting_promote(context: PluginContext) -> float:
            nonlocal promotes
            promotes += 1
            return await original(context)

        worker.promoter.promote = counting_promote  # type: ignore[method-assign]
        await asyncio.sleep(1.5)
    assert promotes == 0  # it sleeps until the job due in an hour (or a nudge)


async def test_many_schedulers_promote_each_job_exactly_once(
    queue: AsyncQueue, redis_url: str
) -> None:
    due = time.time() + 0.3
    jobs = [await queue.enqueue_at(due, tasks.record, f"job-{i}") for i in range(200)]
    workers = [Worker([queue.name], url=redis_url, imports=["tests.tasks"], concurrency=50,
                      burst=True) for _ in range(3)]
    await asyncio.wait_for(
        asyncio.gather(*(w.run(install_signal_handlers=False) for w in workers)), 20)
    assert sorted(tasks.calls) == sorted(f"job-{i}" for i in range(200))
    assert sum(w.promoter.promoted for w in workers) == 200
    for job in jobs:
        assert await job.get_status() is JobStatus.FINISHED


async def test_a_canceled_scheduled_job_never_runs(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue_in(0.3, tasks.record, "canceled")
    assert await job.cancel() is True
    async with running_worker(queue.name):
        await asyncio.sleep(0.6)
    assert tasks.calls == []
    assert await job.get_status() is JobStatus.CANCELED
