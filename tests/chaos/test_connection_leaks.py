"""Connections to Redis, counted on the server (CLIENT LIST, leaving out the test's own
inspection connection): concurrent first use of a queue opens one, and a closed queue or
a stopped worker leaves none open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from aqueue import AsyncQueue, Worker
from tests import tasks
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio

CONCURRENT = 50


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def inspector(server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis(port=server.port, socket_timeout=10) as client:
        client.ping()
        yield client


def others(inspector: redis.Redis) -> list[dict[str, Any]]:
    """The server's client connections other than the inspector's own."""
    own = inspector.client_id()
    return [c for c in inspector.client_list() if int(c["id"]) != own]


def connections_received(inspector: redis.Redis) -> int:
    return int(inspector.info("stats")["total_connections_received"])


async def none_left(inspector: redis.Redis, within: float = 2.0) -> list[dict[str, Any]]:
    """Wait (the server sees a close a moment later) for no other connection; returns
    those still open."""
    deadline = time.monotonic() + within
    while (left := others(inspector)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


async def test_concurrent_first_enqueues_open_one_connection(
    server: RedisServer, inspector: redis.Redis,
) -> None:
    before = connections_received(inspector)
    queue = AsyncQueue("leaks", url=server.url)
    try:
        await asyncio.gather(*(queue.enqueue(tasks.add, i, i) for i in range(CONCURRENT)))
        open_now = others(inspector)
        opened = connections_received(inspector) - before
    finally:
        await queue.close()
    assert (len(open_now), opened) == (1, 1), (
        f"{CONCURRENT} concurrent first enqueues: {len(open_now)} connections open, "
        f"{opened} opened")


async def test_a_closed_queue_leaves_no_connection_open(
    server: RedisServer, inspector: redis.Redis,
) -> None:
    queue = AsyncQueue("leaks", url=server.url)
    await asyncio.gather(*(queue.enqueue(tasks.add, i, i) for i in range(CONCURRENT)))
    await queue.close()
    left = await none_left(inspector)
    assert left == [], f"{len(left)} connections left open after close(): {left[:3]}"


async def test_a_stopped_worker_leaves_no_connection_open(
    server: RedisServer, inspector: redis.Redis,
) -> None:
    async with AsyncQueue("leaks", url=server.url) as queue:
        job = await queue.enqueue(tasks.add, 2, 3)
        worker = Worker(["leaks"], url=server.url, imports=["tests.tasks"], lease=3)
        running = asyncio.create_task(worker.run(install_signal_handlers=False))
        assert await job.result(timeout=10) == 5
    worker.stop()
    await asyncio.wait_for(running, 30)
    left = await none_left(inspector)
    assert left == [], f"{len(left)} connections left open by a stopped worker: {left[:3]}"
