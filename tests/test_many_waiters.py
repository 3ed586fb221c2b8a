"""Many result waiters on one producer: 10,000 coroutines on one AsyncQueue, 200 threads on
one sync Queue. Each gets its own result, the producer's connections to Redis stay a small
fixed number (its command connection(s) and one subscriber), and the queue keeps answering
other calls while they wait. The jobs run in a real `aqueue worker` process."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from aqueue import AsyncQueue, Queue
from aqueue.store.sync_store import DEFAULT_POOL_SIZE
from tests import tasks
from tests.test_cli import start_worker

pytestmark = pytest.mark.anyio

WAITERS = 10_000
THREADS = 200
JOBS_PER_THREAD = 5


def producer_connections(url: str, queue: str) -> int:
    """Connections Redis has from this queue's producer (aqueue names them)."""
    with redis.Redis.from_url(url) as client:
        return sum(1 for c in client.client_list()
                   if (c.get("name") or "").startswith(f"aqueue:producer:{queue}"))


def stop(worker: subprocess.Popen[str]) -> None:
    worker.terminate()
    worker.communicate(timeout=30)


async def settled(seconds: float = 60) -> None:
    """Until the event loop is idle: three 20 ms sleeps in a row without lag."""
    deadline, calm = time.monotonic() + seconds, 0
    while calm < 3:
        assert time.monotonic() < deadline, "the event loop never went idle"
        started = time.perf_counter()
        await asyncio.sleep(0.02)
        calm = calm + 1 if time.perf_counter() - started < 0.04 else 0


@pytest.fixture
def sampled_connections(redis_url: str) -> Iterator[tuple[list[int], threading.Event, str]]:
    """Samples the named producer connections every 20 ms until the event is set."""
    samples: list[int] = []
    done = threading.Event()
    queue_name = f"q-threads-{time.monotonic_ns()}"

    def sample() -> None:
        while not done.wait(0.02):
            samples.append(producer_connections(redis_url, queue_name))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    yield samples, done, queue_name
    done.set()
    sampler.join(5)


async def test_ten_thousand_waiters_share_two_connections_and_each_gets_its_own_result(
    queue: AsyncQueue, redis_url: str
) -> None:
    jobs = await queue.enqueue_many([queue.prepare(tasks.add, i, 1) for i in range(WAITERS)])
    waiters = [asyncio.ensure_future(job.result(timeout=120)) for job in jobs]
    with redis.Redis.from_url(redis_url) as client:
        deadline = time.monotonic() + 60
        while len(client.execute_command("PUBSUB", "SHARDCHANNELS")) < WAITERS:
            assert time.monotonic() < deadline, "the waiters did not all subscribe"
            await asyncio.sleep(0.05)
    await settled()  # each has looked at its job once (watch.lua) and now waits
    assert producer_connections(redis_url, queue.name) <= 3
    started = time.perf_counter()
    counts = await queue.counts()
    assert time.perf_counter() - started < 1.0  # not stuck behind 10,000 waiters
    assert counts.queued == WAITERS
    worker = start_worker(queue.name, redis_url, "--concurrency", "200")
    try:
        results = await asyncio.wait_for(asyncio.gather(*waiters), 120)
    finally:
        stop(worker)
    assert results == [i + 1 for i in range(WAITERS)]
    assert producer_connections(redis_url, queue.name) <= 3


def test_two_hundred_threads_share_one_sync_queue_and_a_bounded_pool(
    redis_url: str, sampled_connections: tuple[list[int], threading.Event, str]
) -> None:
    samples, _, queue_name = sampled_connections
    worker = start_worker(queue_name, redis_url, "--concurrency", "200")
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)
    with Queue(queue_name, url=redis_url) as queue:

        def work(thread: int) -> None:
            start.wait()
            try:
                results[thread] = [
                    queue.enqueue(tasks.multiply, thread, j).result(timeout=60)
                    for j in range(JOBS_PER_THREAD)]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        finally:
            stop(worker)
    assert errors == []
    assert results == {t: [t * j for j in range(JOBS_PER_THREAD)] for t in range(THREADS)}
    assert samples and max(samples) <= DEFAULT_POOL_SIZE + 1  # the pool, and one subscriber
