"""The lean pipelined connection used on the hot path."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from aqueue import AsyncQueue
from aqueue.store.connection import connect
from aqueue.store.resp import RespConnection
from tests import tasks
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio


async def test_concurrent_calls_get_their_own_replies(redis_url: str) -> None:
    connection = RespConnection.like(connect(redis_url))
    assert connection is not None
    replies = await asyncio.gather(*(connection.call("ECHO", str(i)) for i in range(500)))
    assert replies == [str(i).encode() for i in range(500)]
    await connection.close()


async def test_an_error_reply_raises_response_error(redis_url: str) -> None:
    connection = RespConnection.like(connect(redis_url))
    assert connection is not None
    await connection.call("SET", "k", "v")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await connection.call("LPUSH", "k", "x")
    assert await connection.call("GET", "k") == b"v"
    await connection.close()


async def test_scripts_are_loaded_again_after_a_script_flush(queue: AsyncQueue) -> None:
    await queue.enqueue(tasks.add, 1, 1)
    await queue.redis.script_flush()
    await queue.enqueue(tasks.add, 2, 2)
    assert (await queue.counts()).queued == 2


async def test_a_lost_connection_fails_pending_calls_and_reconnects_on_the_next() -> None:
    server = RedisServer()
    try:
        connection = RespConnection(port=server.port)
        assert await connection.call("PING") == b"PONG"
        server.kill()
        with pytest.raises(RedisConnectionError):
            await connection.call("PING")
        server.start()
        assert await connection.call("PING") == b"PONG"
        await connection.close()
    finally:
        server.close()


async def test_password_and_database_from_the_url_are_used() -> None:
    server = RedisServer("--requirepass", "s3cret")
    try:
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        async with AsyncQueue("q", url=url) as queue:
            job = await queue.enqueue(tasks.add, 1, 1)
        with redis.Redis(port=server.port, password="s3cret", db=0) as db0:
            assert db0.dbsize() == 0
        with redis.Redis(port=server.port, password="s3cret", db=3) as db3:
            assert db3.exists(f"aq:{{q}}:job:{job.id}") == 1
    finally:
        server.close()


async def test_tls_clients_fall_back_to_redis_py() -> None:
    assert RespConnection.like(connect("rediss://127.0.0.1:1/0")) is None
