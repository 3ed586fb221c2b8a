"""The worker side of the dashboard: the history plugin (counters sampled once a minute
however many workers run) and the control plugin (a running job's live stack, on
request), and the reads built on them."""

from __future__ import annotations

import asyncio

import pytest

from aqueue import AsyncAdmin, AsyncQueue, NoSuchJobError
from aqueue.client.history import HistorySample, rates
from aqueue.errors import WorkerNotListening
from aqueue.plugins.history import History
from tests import tasks
from tests.conftest import BurstRunner, WorkerFactory

pytestmark = pytest.mark.anyio


async def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_workers_side_by_side_write_one_sample_per_minute(
    queue: AsyncQueue, running_worker: WorkerFactory, run_burst: BurstRunner
) -> None:
    await queue.enqueue(tasks.add, 1, 2)
    await run_burst(queue.name)  # a burst worker samples at its start too
    async with running_worker(queue.name), running_worker(queue.name), \
            running_worker(queue.name):
        await asyncio.sleep(0.3)
    samples = await queue.history()
    minutes = [s.at for s in samples]
    assert 1 <= len(samples) <= 2  # 2 only if a minute began during the test
    assert len(set(minutes)) == len(minutes) and all(m % 60 == 0 for m in minutes)


async def test_concurrent_samplers_in_one_minute_write_once(queue: AsyncQueue) -> None:
    async def sample() -> int:
        wrote, _ = await queue.store.script("sample", queue.keys.script_keys(), [1440, 2160])
        return int(wrote)

    first = await asyncio.gather(*(sample() for _ in range(20)))
    again = await sample()
    assert sum(first) + again == 1 or (sum(first) == 1 and again == 1)  # a new minute
    assert len(await queue.history("hour", 5)) == 1


async def test_a_sample_holds_the_totals_and_depths_of_its_minute(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    await queue.enqueue(tasks.add, 1, 2)
    await queue.enqueue(tasks.fail, "no")
    await run_burst(queue.name)
    await queue.enqueue(tasks.add, 1, 2)
    await queue.store.call("DEL", f"{queue.keys.base}history:minute", key=queue.keys.queued)
    await queue.store.script("sample", queue.keys.script_keys(), [1440, 2160])
    [sample] = await queue.history()
    assert (sample.enqueued, sample.finished, sample.failed, sample.queued,
            sample.failed_now) == (3, 1, 1, 1, 1)


def test_rates_are_per_minute_between_samples() -> None:
    def at(t: float, finished: int, failed: int) -> HistorySample:
        return HistorySample(t, finished + failed, finished, failed, 0, 0, 0, 0, 0, failed)

    [rate, gap] = rates([at(0, 100, 10), at(60, 160, 30), at(180, 220, 30)])
    assert (rate.finished, rate.failed, rate.failure_rate) == (60, 20, 0.25)
    assert (gap.seconds, gap.finished, gap.failure_rate) == (120, 30, 0.0)


async def test_the_history_plugin_prunes_the_index_once_per_minute(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    await queue.enable_search_index()
    job = await queue.enqueue(tasks.echo, user="u1")
    await queue.delete(job.id)
    assert (await queue.search_index()).jobs == 1
    await queue.store.call("DEL", f"{queue.keys.base}history:minute", key=queue.keys.queued)
    async with running_worker(queue.name) as worker:
        await wait_for(lambda: _index_empty(queue))
    [plugin] = [p for p in worker.plugins if isinstance(p, History)]
    assert (plugin.samples, plugin.pruned) == (1, 1)


async def _index_empty(queue: AsyncQueue) -> bool:
    return (await queue.search_index()).jobs == 0


async def test_running_shows_elapsed_time_and_lease_left(
    queue: AsyncQueue, running_worker: WorkerFactory, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "x", job_timeout=120)
    async with running_worker(queue.name, lease=30) as worker:
        await wait_for(lambda: _started(queue))
        [running] = await queue.running()
        async with AsyncAdmin(url=redis_url) as admin:
            [info] = await admin.workers()
            [(name, mine)] = await admin.worker_jobs(info)
        worker.stop_now()
    assert running.record["id"] == job.id and running.record["timeout"] == 120
    assert 0 <= running.running_for < 5 and 20 < running.lease_left <= 30
    assert (name, mine.record["id"]) == (queue.name, job.id)


async def _started(queue: AsyncQueue) -> bool:
    return bool(await queue.started_job_ids())


async def test_a_worker_answers_with_the_live_stack_of_a_running_job(
    queue: AsyncQueue, running_worker: WorkerFactory, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "stack")
    async with running_worker(queue.name) as worker, AsyncAdmin(url=redis_url) as admin:
        await wait_for(lambda: _started(queue))
        stack = await admin.job_stack(worker.name, job.id)
        with pytest.raises(NoSuchJobError, match="is not running on this worker"):
            await admin.job_stack(worker.name, "f" * 32)
        worker.stop_now()
    assert "in sleep_forever" in stack and "await asyncio.sleep(3600)" in stack
    assert stack.index("in execute") < stack.index("in sleep_forever")


async def test_asking_a_worker_that_does_not_listen_says_so(redis_url: str) -> None:
    async with AsyncAdmin(url=redis_url) as admin:
        with pytest.raises(WorkerNotListening, match="worker ghost does not listen"):
            await admin.job_stack("ghost", "f" * 32)
