"""Time and flow control on a Redis Cluster: every key a feature writes lives in its
queue's slot, with queues spread over different primaries."""

from __future__ import annotations

import asyncio
import time

import pytest

from aqueue import AsyncQueue, JobStatus, Worker
from aqueue.cron import CronJob
from aqueue.flow import Debounce
from tests import flow_tasks
from tests.servers.cluster import RedisCluster

pytestmark = pytest.mark.anyio


async def run_worker(url: str, queues: list[str], seconds: float, **options: object) -> Worker:
    worker = Worker(queues, url=url, imports=["tests.flow_tasks"], **options)  # type: ignore[arg-type]
    async with worker:
        await asyncio.sleep(seconds)
    return worker


async def test_priorities_expiry_and_unique_on_queues_of_three_primaries(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    flow_tasks.reset()
    first, second, third = three
    await third.enqueue(flow_tasks.note, "third", priority=9)
    await second.enqueue(flow_tasks.note, "second-low", priority=-1)
    await second.enqueue(flow_tasks.note, "second-high", priority=1)
    expired = await first.enqueue(flow_tasks.note, "gone", expires=0.01)
    kept = await first.enqueue(flow_tasks.note, "first", unique=True)
    assert (await first.enqueue(flow_tasks.note, "first", unique=True)).id == kept.id
    await asyncio.sleep(0.05)
    worker = Worker([q.name for q in three], url=fresh_redis_cluster.url(),
                    imports=["tests.flow_tasks"], concurrency=1, burst=True)
    await asyncio.wait_for(worker.run(install_signal_handlers=False), 30)
    assert [label for label, _ in flow_tasks.started] == [
        "first", "second-high", "second-low", "third"]
    assert (await first.fetch_job(expired.id)).status is JobStatus.EXPIRED
    assert (await first.counts()).expired == 1


async def test_pause_and_limits_hold_per_queue_on_a_cluster(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    paused, limited, free = three
    await paused.pause()
    await limited.set_limits(rate="3/0.5s", key_concurrency=1)
    held = await paused.enqueue(flow_tasks.note, "held")
    limited_jobs = await limited.enqueue_many(
        [limited.prepare(flow_tasks.hold, 0.05, limit_key=f"k{i % 2}") for i in range(9)])
    free_job = await free.enqueue(flow_tasks.note, "free")
    url = fresh_redis_cluster.url()
    start = time.monotonic()
    async with Worker([q.name for q in three], url=url, imports=["tests.flow_tasks"]), \
            Worker([q.name for q in three], url=url, imports=["tests.flow_tasks"]):
        assert await free_job.result(timeout=10) == "free"
        for job in limited_jobs:
            await job.result(timeout=10)
        assert await paused.get_status(held.id) is JobStatus.QUEUED
        await paused.resume()
        assert await held.result(timeout=5) == "held"
    assert 0.5 < time.monotonic() - start < 6  # 9 starts at 3 per 0.5 s: 3 windows at least
    starts = sorted([(await limited.fetch_job(j.id)).started_at or 0 for j in limited_jobs])
    windows: dict[int, int] = {}
    for s in starts:
        windows[int(s // 0.5)] = windows.get(int(s // 0.5), 0) + 1
    assert max(windows.values()) <= 3


async def test_debounce_and_schedules_on_a_cluster(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    flow_tasks.reset()
    served, scheduled_only, _ = three
    quiet = Debounce(wait=0.2)
    first = await served.enqueue(flow_tasks.note, "a", debounce=quiet)
    assert (await served.enqueue(flow_tasks.note, "b", debounce=quiet)).id == first.id
    schedule = CronJob("tick", flow_tasks.note, "* * * * * *", args=["tick"],
                       queue=scheduled_only.name)
    worker = await run_worker(fresh_redis_cluster.url(),
                              [served.name, scheduled_only.name], 2.5, cron=[schedule])
    assert await first.result(timeout=1) == "b"
    info = await scheduled_only.get_schedule("tick")
    assert 1 <= info.runs <= 3 and len(worker.cron.enqueued) == info.runs
    assert info.last_job is not None
    assert (await scheduled_only.fetch_job(info.last_job)).status is JobStatus.FINISHED
