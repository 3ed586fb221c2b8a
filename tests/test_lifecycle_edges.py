"""Edge cases of a job's life: replaced ids, requeues, deliveries, tokens, shutdown."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.asyncio import Redis

from aqueue import AsyncQueue, ConnectionFailed, JobFailed, JobStatus, Retry, Worker
from tests import tasks
from tests.conftest import BurstRunner, WorkerFactory

pytestmark = pytest.mark.anyio


async def test_a_retry_does_not_count_as_a_lost_delivery(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.fail_times, "r", 9, retry=Retry(max=9, interval=60))
    async with running_worker(queue.name):
        while await job.get_status() is not JobStatus.SCHEDULED:
            await asyncio.sleep(0.01)
    assert (await queue.fetch_job(job.id)).deliveries == 0


async def test_reusing_an_explicit_job_id_forgets_the_failed_job(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    await queue.enqueue(tasks.fail, "x", job_id="report-7")
    await run_burst(queue.name)
    assert await queue.failed_job_ids() == ["report-7"]
    again = await queue.enqueue(tasks.add, 1, 2, job_id="report-7")
    assert await queue.failed_job_ids() == []
    await run_burst(queue.name)
    assert await again.result(timeout=1) == 3
    assert (await queue.counts()).failed == 0


async def test_a_requeued_job_does_not_wake_new_waiters_early(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.fail, "first")
    waiter = asyncio.create_task(job.result(timeout=5))
    await asyncio.sleep(0.05)
    await run_burst(queue.name)
    with pytest.raises(JobFailed):
        await waiter
    await queue.requeue_failed(job.id)
    with redis.Redis.from_url(redis_url) as client:
        before = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
        with pytest.raises(TimeoutError):
            await job.result(timeout=0.5)
        after = client.info("commandstats")["cmdstat_evalsha"]["calls"]
    assert after - before == 1  # one look at the job, no wake-up from its earlier end


async def test_a_job_raising_cancelled_error_fails_instead_of_looping(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    job = await queue.enqueue(tasks.raise_cancelled)
    worker = await run_burst(queue.name)
    with pytest.raises(JobFailed, match="CancelledError"):
        await job.result(timeout=1)
    assert worker.stats.failed == 1


async def test_stopping_now_hands_jobs_back_without_false_lease_warnings(
    queue: AsyncQueue, redis_url: str
) -> None:
    jobs = await queue.enqueue_many([queue.prepare(tasks.sleep_forever, str(i)) for i in range(3)])
    worker = Worker([queue.name], url=redis_url, imports=["tests.tasks"])
    run = asyncio.create_task(worker.run(install_signal_handlers=False))
    while len(tasks.cancelled) < 0 or (await queue.counts()).started < 3:
        await asyncio.sleep(0.01)
    worker.stop_now()
    await asyncio.wait_for(run, 10)
    assert worker.stats.rejected == 0
    assert sorted(await queue.queued_job_ids()) == sorted(j.id for j in jobs)


async def test_every_claim_gets_a_new_token(
    queue: AsyncQueue, redis_url: str, redis: Redis
) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "t")
    tokens = []
    for _ in range(2):
        worker = Worker([queue.name], url=redis_url, imports=["tests.tasks"], grace=0,
                        name="same-name")
        run = asyncio.create_task(worker.run(install_signal_handlers=False))
        while await job.get_status() is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        tokens.append(await redis.hget(queue.keys.job(job.id), "token"))
        worker.stop()
        await asyncio.wait_for(run, 10)
    assert tokens[0] != tokens[1]


async def test_a_worker_does_not_renew_a_lease_it_lost(
    queue: AsyncQueue, running_worker: WorkerFactory, caplog: pytest.LogCaptureFixture,
    redis: Redis,
) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "lost")
    async with running_worker(queue.name, lease=3, grace=0) as worker:
        while await job.get_status() is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        # as if the job had been reaped and claimed by another worker
        await redis.hset(queue.keys.job(job.id), "token", "another-worker:1")
        lease_before = await redis.zscore(queue.keys.started, job.id)
        await asyncio.sleep(1.5)  # more than a heartbeat (lease / 3)
        lease_after = await redis.zscore(queue.keys.started, job.id)
    assert lease_after == lease_before
    assert any("lease lost" in r.message for r in caplog.records)
    assert worker.stats.rejected == 1  # its hand-back at shutdown is refused too


async def test_a_running_job_can_see_its_own_id(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.enqueue(tasks.whoami)
    threaded = await queue.enqueue(tasks.whoami_in_thread)
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == {
            "id": job.id, "queue": queue.name, "func": "tests.tasks.whoami", "attempt": 1}
        assert await threaded.result(timeout=5) == threaded.id


async def test_enqueue_at_the_epoch_means_now(queue: AsyncQueue) -> None:
    job = await queue.enqueue_at(0, tasks.add, 1, 1)
    assert job.status is JobStatus.QUEUED
    assert await job.get_status() is JobStatus.QUEUED


async def test_failure_ttl_zero_keeps_nothing(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    job = await queue.enqueue(tasks.fail, "gone", failure_ttl=0)
    await run_burst(queue.name)
    assert not await redis.exists(queue.keys.job(job.id))
    assert await queue.failed_job_ids() == []


async def test_inspection_calls_raise_connection_failed_when_redis_is_down() -> None:
    async with AsyncQueue("q", url="redis://127.0.0.1:1/0") as q:
        with pytest.raises(ConnectionFailed, match=r"cannot counts on 'q'"):
            await q.counts()
        with pytest.raises(ConnectionFailed, match=r"cannot fetch_job on 'q'"):
            await q.fetch_job("x")


async def test_a_worker_survives_redis_refusing_writes(
    queue: AsyncQueue, running_worker: WorkerFactory, redis_url: str, redis: Redis) -> None:
    job = await queue.enqueue(tasks.sleep_and_count, 0.3)
    async with running_worker(queue.name):
        while await job.get_status() is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        await redis.config_set("maxmemory", "1")  # every write now fails with OOM
        await asyncio.sleep(0.8)
        await redis.config_set("maxmemory", "0")
        await job.result(timeout=10)
    assert await job.get_status() is JobStatus.FINISHED


async def test_current_job_counts_deliveries_after_a_lost_worker(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis) -> None:
    job = await queue.enqueue("tests.tasks.whoami_delivery")
    await redis.hset(queue.keys.job(job.id), "deliveries", 1)  # a worker died running it
    await run_burst(queue.name)
    assert await job.result(timeout=1) == 2
