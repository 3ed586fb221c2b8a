"""The worker: running coroutines and plain functions, limits, timeouts, retries, results."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobFailed, JobStatus, Retry, Worker
from tests import tasks
from tests.conftest import BurstRunner, WorkerFactory

pytestmark = pytest.mark.anyio


async def test_runs_a_coroutine_and_stores_its_result(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.add, 2, 3)
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == 5
    stored = await queue.fetch_job(job.id)
    assert stored.status is JobStatus.FINISHED
    assert stored.raw_result == b"5"
    assert stored.started_at is not None and stored.ended_at is not None


async def test_runs_a_plain_function_in_a_worker_thread(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.blocking_sleep, 0.01)
    async with running_worker(queue.name):
        thread_name = await job.result(timeout=5)
    assert thread_name != "MainThread"


async def test_finished_job_expires_after_its_result_ttl(
    queue: AsyncQueue, running_worker: WorkerFactory, redis: Redis) -> None:
    job = await queue.enqueue(tasks.add, 1, 1, result_ttl=100)
    async with running_worker(queue.name):
        await job.result(timeout=5)
    ttl = await redis.ttl(queue.keys.job(job.id))
    assert 90 <= ttl <= 100


async def test_runs_at_most_concurrency_jobs_at_once(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    jobs = await queue.enqueue_many([queue.prepare(tasks.sleep_and_count, 0.05)
                                     for _ in range(60)])
    async with running_worker(queue.name, concurrency=7):
        for job in jobs:
            await job.result(timeout=10)
    assert tasks.max_running == 7


async def test_a_coroutine_past_its_timeout_is_cancelled_and_fails(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "slow", job_timeout=0.2)
    async with running_worker(queue.name):
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout=5)
    assert failure.value.exc_type == "aqueue.errors.JobTimeout"
    assert "job_timeout of 0.2 s" in failure.value.exc_message
    assert tasks.cancelled == ["slow"]


async def test_a_thread_past_its_timeout_fails_at_its_deadline(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.blocking_sleep, 3, job_timeout=0.2)
    async with running_worker(queue.name, grace=0):
        with pytest.raises(JobFailed, match="JobTimeout"):
            await job.result(timeout=2)


async def test_a_timeout_error_raised_by_the_job_is_not_a_job_timeout(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue("tests.tasks.fail", "not a timeout")
    async with running_worker(queue.name):
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout=5)
    assert failure.value.exc_type == "ValueError"


async def test_failure_carries_type_message_and_traceback(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.fail, "card declined")
    async with running_worker(queue.name):
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout=5)
    assert failure.value.exc_type == "ValueError"
    assert failure.value.exc_message == "card declined"
    assert 'raise ValueError(message)' in failure.value.traceback
    assert await job.get_status() is JobStatus.FAILED
    assert await queue.failed_job_ids() == [job.id]


async def test_failed_jobs_are_kept_until_requeued_by_default(
    queue: AsyncQueue, running_worker: WorkerFactory, redis: Redis) -> None:
    job = await queue.enqueue(tasks.fail, "x")
    async with running_worker(queue.name):
        with pytest.raises(JobFailed):
            await job.result(timeout=5)
    assert await redis.ttl(queue.keys.job(job.id)) == -1


async def test_failure_ttl_expires_the_failed_job(
    queue: AsyncQueue, running_worker: WorkerFactory, redis: Redis) -> None:
    job = await queue.enqueue(tasks.fail, "x", failure_ttl=60)
    async with running_worker(queue.name):
        with pytest.raises(JobFailed):
            await job.result(timeout=5)
    assert 50 <= await redis.ttl(queue.keys.job(job.id)) <= 60


async def test_a_failing_job_is_retried_up_to_max_then_fails(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.fail_times, "a", 5, retry=Retry(max=2, interval=[0.05, 0.1]))
    async with running_worker(queue.name):
        with pytest.raises(JobFailed, match="attempt 3 failed"):
            await job.result(timeout=5)
    assert tasks.calls == ["a", "a", "a"]
    assert (await queue.fetch_job(job.id)).attempts == 3


async def test_a_retried_job_that_then_succeeds_finishes(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.fail_times, "b", 1, retry=Retry(max=3, interval=0.05))
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == "ok"
    assert tasks.calls == ["b", "b"]


async def test_a_retry_waits_its_interval_in_the_scheduled_set(
    queue: AsyncQueue, running_worker: WorkerFactory, redis: Redis) -> None:
    job = await queue.enqueue(tasks.fail_times, "c", 1, retry=Retry(max=1, interval=30))
    async with running_worker(queue.name):
        for _ in range(100):
            if await job.get_status() is JobStatus.SCHEDULED:
                break
            await asyncio.sleep(0.02)
    stored = await queue.fetch_job(job.id)
    assert stored.status is JobStatus.SCHEDULED
    assert stored.exc_message == "attempt 1 failed"
    due = await redis.zscore(queue.keys.scheduled, job.id)
    assert due is not None and 25 < due - time.time() <= 30


async def test_queues_are_served_in_strict_priority_order(
    redis_url: str, run_burst: BurstRunner
) -> None:
    async with AsyncQueue("low", url=redis_url) as low, AsyncQueue("high", url=redis_url) as high:
        for i in range(3):
            await low.enqueue(tasks.record, f"low-{i}")
            await high.enqueue(tasks.record, f"high-{i}")
        worker = await run_burst(["high", "low"], concurrency=1)
        assert worker.stats.processed == 6
    assert tasks.calls == ["high-0", "high-1", "high-2", "low-0", "low-1", "low-2"]


async def test_static_methods_of_allowed_modules_run(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.Greeter.hello, "ada")
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == "hello ada"


async def test_graceful_stop_lets_running_jobs_finish(
    queue: AsyncQueue, redis_url: str
) -> None:
    jobs = await queue.enqueue_many([queue.prepare(tasks.sleep_and_count, 0.3) for _ in range(5)])
    worker = Worker([queue.name], url=redis_url, imports=["tests.tasks"], concurrency=5, grace=10)
    run = asyncio.create_task(worker.run(install_signal_handlers=False))
    while tasks.running < 5:
        await asyncio.sleep(0.01)
    worker.stop()
    await asyncio.wait_for(run, 10)
    for job in jobs:
        assert await job.get_status() is JobStatus.FINISHED


async def test_jobs_still_running_after_the_grace_period_go_back_to_the_queue(
    queue: AsyncQueue, redis_url: str, redis: Redis) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "held")
    worker = Worker([queue.name], url=redis_url, imports=["tests.tasks"], grace=0.2)
    run = asyncio.create_task(worker.run(install_signal_handlers=False))
    while await job.get_status() is not JobStatus.STARTED:
        await asyncio.sleep(0.01)
    worker.stop()
    await asyncio.wait_for(run, 10)
    stored = await queue.fetch_job(job.id)
    assert stored.status is JobStatus.QUEUED
    assert stored.deliveries == 0
    assert await queue.queued_job_ids() == [job.id]
    assert await redis.zcard(queue.keys.started) == 0
    assert tasks.cancelled == ["held"]


async def test_burst_mode_waits_for_a_retry_due_in_a_moment(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    job = await queue.enqueue(tasks.fail_times, "d", 1, retry=Retry(max=1, interval=0.5))
    await run_burst(queue.name)
    assert await job.get_status() is JobStatus.FINISHED


async def test_burst_mode_does_not_wait_for_a_job_due_next_hour(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    later = await queue.enqueue_in(3600, tasks.add, 1, 1)
    now = await queue.enqueue(tasks.add, 1, 1)
    started = time.monotonic()
    await run_burst(queue.name)
    assert time.monotonic() - started < 5
    assert await now.get_status() is JobStatus.FINISHED
    assert await later.get_status() is JobStatus.SCHEDULED


async def test_the_watchdog_names_a_job_that_blocks_the_event_loop(
    queue: AsyncQueue, running_worker: WorkerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    job = await queue.enqueue(tasks.block_the_loop, 1.2)
    async with running_worker(queue.name, lease=1.5) as worker:
        await job.result(timeout=5)
    assert worker.watchdog.stalls == 1
    warning = next(r.getMessage() for r in caplog.records if "event loop blocked" in r.message)
    assert f"{job.id} (tests.tasks.block_the_loop)" in warning
