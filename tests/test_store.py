"""The store: aqueue's own pipelined connections, and what they do when things go wrong."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from aqueue import AsyncQueue
from aqueue.store.errors import ConnectionLost
from aqueue.store.resp import RespConnection
from aqueue.store.store import Store
from aqueue.store.urls import Address, parse_url
from tests import tasks
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio


def connection_to(url: str) -> RespConnection:
    config = parse_url(url)
    return RespConnection(config, config.addresses[0])


async def test_concurrent_calls_get_their_own_replies(redis_url: str) -> None:
    connection = connection_to(redis_url)
    replies = await asyncio.gather(*(connection.call("ECHO", str(i)) for i in range(500)))
    assert replies == [str(i).encode() for i in range(500)]
    await connection.close()


async def test_an_error_reply_raises_response_error(redis_url: str) -> None:
    connection = connection_to(redis_url)
    await connection.call("SET", "k", "v")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await connection.call("LPUSH", "k", "x")
    assert await connection.call("GET", "k") == b"v"
    await connection.close()


async def test_scripts_are_loaded_again_after_a_script_flush(
    queue: AsyncQueue, redis: Redis
) -> None:
    await queue.enqueue(tasks.add, 1, 1)
    await redis.script_flush()
    await queue.enqueue(tasks.add, 2, 2)
    assert (await queue.counts()).queued == 2


async def test_a_lost_connection_fails_pending_calls_and_reconnects_on_the_next() -> None:
    server = RedisServer()
    try:
        connection = connection_to(server.url)
        assert await connection.call("PING") == b"PONG"
        server.kill()
        with pytest.raises(ConnectionLost):
            await connection.call("PING")
        server.start()
        assert await connection.call("PING") == b"PONG"
        await connection.close()
    finally:
        server.close()


async def test_a_command_that_never_reached_redis_is_not_ambiguous() -> None:
    connection = connection_to("redis://127.0.0.1:1/0")
    with pytest.raises(ConnectionLost) as lost:
        await connection.call("PING")
    assert lost.value.sent is False


async def test_password_and_database_from_the_url_are_used() -> None:
    server = RedisServer("--requirepass", "s3cret")
    try:
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        async with AsyncQueue("q", url=url) as queue:
            job = await queue.enqueue(tasks.add, 1, 1)
        with redis.Redis(port=server.port, password="s3cret", db=0) as db0:
            assert db0.exists(f"aq:{{q}}:job:{job.id}") == 0
        with redis.Redis(port=server.port, password="s3cret", db=3) as db3:
            assert db3.exists(f"aq:{{q}}:job:{job.id}") == 1
    finally:
        server.close()


async def test_a_store_opened_from_a_redis_py_client_talks_to_its_server(
    redis_url: str
) -> None:
    client = Redis.from_url(redis_url.replace("/0", "/2"), decode_responses=True)
    store = Store.open(connection=client)
    assert store.config.addresses == parse_url(redis_url).addresses
    assert store.config.db == 2
    await store.call("SET", "from-store", "1")
    assert await client.get("from-store") == "1"
    await store.close()
    await client.aclose()


def test_an_object_that_is_not_a_redis_client_is_refused() -> None:
    with pytest.raises(TypeError, match="connection= takes"):
        Store.open(connection=object())


def test_addresses_print_as_host_and_port() -> None:
    assert str(Address("127.0.0.1", 6380)) == "127.0.0.1:6380"
    assert str(Address.unix("/tmp/r.sock")) == "unix:///tmp/r.sock"
