"""Unique jobs and debounce: a pending job is returned instead of adding another."""

from __future__ import annotations

import asyncio

import pytest

from aqueue import AsyncQueue, JobExistsError, JobStatus, Queue
from aqueue.flow import Debounce, Unique
from tests import flow_tasks
from tests.conftest import BurstRunner, WorkerFactory

pytestmark = pytest.mark.anyio


async def test_an_explicit_id_still_raises_unless_unique_is_asked_for(
        queue: AsyncQueue) -> None:
    first = await queue.enqueue(flow_tasks.note, "a", job_id="report-1")
    with pytest.raises(JobExistsError):
        await queue.enqueue(flow_tasks.note, "b", job_id="report-1")
    again = await queue.enqueue(flow_tasks.note, "b", job_id="report-1", unique=True)
    assert again.id == first.id
    assert again.args == first.args  # the pending job, not the new call
    assert (await queue.counts()).queued == 1


async def test_unique_by_function_and_arguments(queue: AsyncQueue) -> None:
    a = await queue.enqueue(flow_tasks.note, "x", unique=True)
    b = await queue.enqueue(flow_tasks.note, "x", unique=True)
    c = await queue.enqueue(flow_tasks.note, "y", unique=True)
    assert a.id == b.id != c.id
    assert (await queue.counts()).queued == 2


async def test_unique_by_a_key_the_user_gives(queue: AsyncQueue) -> None:
    a = await queue.enqueue(flow_tasks.note, "x", unique=Unique(key="customer-7"))
    b = await queue.enqueue(flow_tasks.note, "other args", unique=Unique(key="customer-7"))
    assert a.id == b.id


async def test_until_finished_lets_a_new_job_in_once_the_first_ended(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    a = await queue.enqueue(flow_tasks.note, "x", unique=True)
    await run_burst(queue.name, imports=["tests.flow_tasks"])
    b = await queue.enqueue(flow_tasks.note, "x", unique=True)
    assert b.id != a.id and b.status is JobStatus.QUEUED


async def test_until_finished_holds_while_the_job_runs(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    a = await queue.enqueue(flow_tasks.hold, 0.5, unique=True)
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        while (await queue.get_status(a.id)) is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        assert (await queue.enqueue(flow_tasks.hold, 0.5, unique=True)).id == a.id
        await a.result(timeout=5)


async def test_until_started_lets_a_new_job_in_while_the_first_runs(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    lock = Unique(until="started")
    a = await queue.enqueue(flow_tasks.hold, 0.5, unique=lock)
    assert (await queue.enqueue(flow_tasks.hold, 0.5, unique=lock)).id == a.id
    async with running_worker(queue.name, imports=["tests.flow_tasks"], concurrency=1):
        while (await queue.get_status(a.id)) is not JobStatus.STARTED:
            await asyncio.sleep(0.01)
        b = await queue.enqueue(flow_tasks.hold, 0.5, unique=lock)
        assert b.id != a.id
        await b.result(timeout=5)


async def test_a_window_lock_allows_one_job_per_window_even_after_it_ran(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    window = Unique(key="digest", until="window", ttl=1)
    a = await queue.enqueue(flow_tasks.note, "x", unique=window)
    await run_burst(queue.name, imports=["tests.flow_tasks"])
    assert (await queue.enqueue(flow_tasks.note, "x", unique=window)).id == a.id
    await asyncio.sleep(1.1)
    assert (await queue.enqueue(flow_tasks.note, "x", unique=window)).id != a.id


async def test_canceling_a_unique_job_releases_its_lock(queue: AsyncQueue) -> None:
    a = await queue.enqueue(flow_tasks.note, "x", unique=True)
    await a.cancel()
    assert (await queue.enqueue(flow_tasks.note, "x", unique=True)).id != a.id


async def test_bulk_enqueue_returns_the_kept_job_ids(queue: AsyncQueue) -> None:
    first = await queue.enqueue(flow_tasks.note, "x", unique=True)
    jobs = await queue.enqueue_many([queue.prepare(flow_tasks.note, "x", unique=True),
                                     queue.prepare(flow_tasks.note, "z")])
    assert jobs[0].id == first.id
    assert (await queue.counts()).queued == 2


async def test_debounce_collapses_a_burst_into_one_run_with_the_last_arguments(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow_tasks.reset()
    quiet = Debounce(wait=0.3, key="reindex")
    jobs = []
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        for n in range(5):
            jobs.append(await queue.enqueue(flow_tasks.note, f"v{n}", debounce=quiet))
            await asyncio.sleep(0.1)
        assert len({j.id for j in jobs}) == 1
        assert await jobs[0].result(timeout=5) == "v4"
    assert [label for label, _ in flow_tasks.started] == ["v4"]


async def test_debounce_can_keep_the_first_arguments(
        queue: AsyncQueue, run_burst: BurstRunner) -> None:
    quiet = Debounce(wait=0.2, keep="first")
    a = await queue.enqueue(flow_tasks.note, "first", debounce=quiet)
    await queue.enqueue(flow_tasks.note, "second", debounce=quiet)
    await asyncio.sleep(0.3)
    await run_burst(queue.name, imports=["tests.flow_tasks"])
    assert await a.result(timeout=1) == "first"


async def test_debounce_max_wait_bounds_how_long_a_burst_holds_the_run_back(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    quiet = Debounce(wait=0.3, max_wait=0.5)
    async with running_worker(queue.name, imports=["tests.flow_tasks"]):
        first = await queue.enqueue(flow_tasks.note, "0", debounce=quiet)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < 1.2:  # a steady stream, never quiet for 0.3 s
            job = await queue.enqueue(flow_tasks.note, "n", debounce=quiet)
            if job.id != first.id:
                break
            await asyncio.sleep(0.1)
        assert job.id != first.id, "the burst held the run back past max_wait"
        assert (await queue.fetch_job(first.id)).status in (JobStatus.FINISHED,
                                                            JobStatus.STARTED)


async def test_debounce_and_unique_together_are_refused(queue: AsyncQueue) -> None:
    with pytest.raises(ValueError, match="not both"):
        await queue.enqueue(flow_tasks.note, "x", unique=True, debounce=Debounce(1))
    with pytest.raises(ValueError, match="use enqueue"):
        await queue.enqueue_in(5, flow_tasks.note, "x", debounce=Debounce(1))
    with pytest.raises(ValueError, match="until"):
        Unique(until="forever")  # type: ignore[arg-type]


def test_the_sync_queue_returns_the_kept_job_too(redis_url: str) -> None:
    with Queue("sync-unique", url=redis_url) as q:
        a = q.enqueue(flow_tasks.note, "x", unique=True)
        assert q.enqueue(flow_tasks.note, "x", unique=True).id == a.id
