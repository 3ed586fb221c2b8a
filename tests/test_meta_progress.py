"""meta= and a job's own meta and progress updates, as fetch_job and a follower see them."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from aqueue import AsyncQueue, Progress, Queue, Worker
from tests import control_tasks
from tests.topologies import Topology

pytestmark = pytest.mark.anyio


def worker(topology: Topology, name: str) -> Worker:
    return Worker([name], url=topology.url, imports=["tests.control_tasks"])


async def test_meta_given_at_enqueue_is_on_the_fetched_job(queue: AsyncQueue) -> None:
    job = await queue.enqueue(control_tasks.add, 1, 2, meta={"customer": 7, "tags": ["a"]})
    assert job.meta == {"customer": 7, "tags": ["a"]}
    assert (await queue.fetch_job(job.id)).meta == {"customer": 7, "tags": ["a"]}


async def test_a_job_without_meta_writes_no_meta_field(queue: AsyncQueue, redis: object
                                                       ) -> None:
    job = await queue.enqueue(control_tasks.add, 1, 2)
    fields = await redis.hkeys(queue.ops.keys.job(job.id))  # type: ignore[attr-defined]
    assert b"meta" not in fields and (await queue.fetch_job(job.id)).meta == {}


async def test_meta_that_is_not_json_is_refused_at_enqueue(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match="meta must be JSON-able"):
        await queue.enqueue(control_tasks.add, 1, 2, meta={"when": object()})
    with pytest.raises(TypeError, match="meta takes a dict"):
        await queue.enqueue(control_tasks.add, 1, 2, meta=[1, 2])
    assert (await queue.counts()).queued == 0


async def test_a_job_updates_its_meta_and_progress_before_its_outcome(
        topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name):
        job = await queue.enqueue(control_tasks.report_progress, 3, meta={"owner": "x"})
        assert await job.result(timeout=5) == "ok"
        await job.refresh()
        assert job.meta == {"owner": "x", "stage": "done", "steps": 3}
        assert job.progress == Progress(3, 3, "step 3")


async def test_a_follower_sees_each_progress_until_the_job_ends(topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue:
        job = await queue.enqueue(control_tasks.report_progress, 5)
        seen: list[float] = []

        async def follow() -> None:
            async for progress in job.progress_updates():
                seen.append(progress.value)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.1)
        async with worker(topology, queue.name):
            await asyncio.wait_for(follower, 5)
        assert seen == [1, 2, 3, 4, 5]
        assert queue.listener.connections == 1


async def test_a_sync_follower_sees_each_progress_until_the_job_ends(
        topology: Topology) -> None:
    """The sync Queue follows progress too, from a plain thread, over its one listener."""
    with Queue(topology.names[0], url=topology.url) as queue:
        job = queue.enqueue(control_tasks.report_progress, 5)
        seen: list[float] = []
        follower = threading.Thread(
            target=lambda: seen.extend(p.value for p in job.progress_updates()))
        follower.start()
        time.sleep(0.1)
        async with worker(topology, queue.name):
            await asyncio.to_thread(follower.join, 10)
        assert not follower.is_alive()
        assert seen == [1, 2, 3, 4, 5]
        assert queue.listener.connections == 1


async def test_a_thread_job_reports_progress_and_meta(topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name):
        job = await queue.enqueue(control_tasks.report_progress_in_thread, 4)
        assert await job.result(timeout=5) == "ok"
        await job.refresh()
        assert job.progress == Progress(4, 4) and job.meta == {"thread": True}


async def test_progress_updates_of_an_ended_job_give_its_last_progress(
        queue: AsyncQueue, running_worker: object) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):  # type: ignore[operator]
        job = await queue.enqueue(control_tasks.report_progress, 2)
        await job.result(timeout=5)
    assert [p async for p in job.progress_updates()] == [Progress(2, 2, "step 2")]


def test_set_progress_outside_a_job_says_where_it_works() -> None:
    from aqueue.jobcontrol.updates import set_progress

    with pytest.raises(RuntimeError, match="inside a job"):
        set_progress(1)
    with pytest.raises(TypeError, match="finite number"):
        set_progress(float("nan"))
