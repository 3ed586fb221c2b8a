from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, Worker
from tests import tasks
from tests.redis_servers import RedisServer

pytest_plugins = ["tests.servers.fixtures", "tests.doc_examples.report", "tests.topologies"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A private, empty Redis for each test."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    with redis_server.client() as client:
        client.flushall()
    tasks.reset()
    return redis_server.url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain redis-py client on the test's server, to look at Redis behind aqueue's back."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue(f"q-{uuid.uuid4().hex[:8]}", url=redis_url) as q:
        yield q


@pytest.fixture
async def other(redis_url: str) -> AsyncIterator[AsyncQueue]:
    """A second queue beside ``queue`` (for jobs that span queues)."""
    async with AsyncQueue(f"q-{uuid.uuid4().hex[:8]}", url=redis_url) as q:
        yield q


WorkerFactory = Callable[..., contextlib.AbstractAsyncContextManager[Worker]]


@pytest.fixture
def running_worker(redis_url: str) -> WorkerFactory:
    """``async with running_worker(queue_names, **options) as worker:`` runs a worker in this
    process (functions from tests.tasks), stopping it gracefully at the end."""

    @contextlib.asynccontextmanager
    async def start(queues: list[str] | str, **options: Any) -> AsyncIterator[Worker]:
        options.setdefault("imports", ["tests.tasks"])
        options.setdefault("concurrency", 20)
        options.setdefault("grace", 5)
        names = [queues] if isinstance(queues, str) else queues
        worker = Worker(names, url=redis_url, **options)
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        try:
            yield worker
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)

    return start


BurstRunner = Callable[..., Coroutine[Any, Any, Worker]]


@pytest.fixture
def run_burst(redis_url: str) -> BurstRunner:
    """``await run_burst(queue_names, **options)`` runs a burst worker to its end."""

    async def run(queues: list[str] | str, **options: Any) -> Worker:
        options.setdefault("imports", ["tests.tasks"])
        names = [queues] if isinstance(queues, str) else queues
        worker = Worker(names, url=redis_url, burst=True, **options)
        await asyncio.wait_for(worker.run(install_signal_handlers=False), 30)
        return worker

    return run
