"""Every way to say where Redis is (URL forms, redis-py clients of every kind) works for
the producers (``AsyncQueue``, ``Queue``) and the ``Worker``, and all of them talk to
exactly the server(s) the user's own client talks to."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel

from aqueue import AsyncQueue, JobStatus, Queue, Worker
from tests import tasks
from tests.redis_servers import RedisServer
from tests.servers.cluster import RedisCluster
from tests.servers.sentinel import RedisSentinelSet

pytestmark = pytest.mark.anyio


@dataclass
class Endpoint:
    """``where``: the keyword aqueue gets (url= or connection=); ``look``: a plain client
    of the same server(s), to check behind aqueue's back; ``queue``: a queue name."""

    where: dict[str, Any]
    look: redis.Redis | redis.cluster.RedisCluster
    queue: str = "conn"


def _cluster_nodes(cluster: RedisCluster) -> list[redis.cluster.ClusterNode]:
    return [redis.cluster.ClusterNode("127.0.0.1", p)  # type: ignore[no-untyped-call]
            for p in cluster.primary_ports()]


def _async_cluster_nodes(cluster: RedisCluster) -> list[redis.asyncio.cluster.ClusterNode]:
    return [redis.asyncio.cluster.ClusterNode("127.0.0.1", p) for p in cluster.primary_ports()]


@pytest.fixture(scope="module")
def unix_server() -> Iterator[RedisServer]:
    socket = Path(tempfile.mkdtemp(prefix="aqueue-sock-")) / "redis.sock"
    server = RedisServer("--unixsocket", str(socket), "--unixsocketperm", "700")
    server.socket = socket  # type: ignore[attr-defined]
    yield server
    server.close()


KINDS = [
    "redis-url", "unix-url", "sentinel-url", "cluster-url", "cluster-node-url",
    "redis-client", "async-redis-client", "unix-client", "cluster-client",
    "async-cluster-client", "sentinel-master", "async-sentinel-master",
]


@pytest.fixture(params=KINDS)
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    kind: str = request.param
    tasks.reset()
    with contextlib.ExitStack() as stack:
        yield _endpoint(kind, request.getfixturevalue, stack)


def _endpoint(kind: str, fixture: Callable[[str], Any], stack: contextlib.ExitStack
              ) -> Endpoint:
    if kind in ("redis-url", "redis-client", "async-redis-client"):
        server: RedisServer = fixture("redis_server")
        fixture("redis_url")  # flushed
        look = stack.enter_context(redis.Redis(port=server.port, db=3))
        if kind == "redis-url":
            return Endpoint({"url": f"redis://127.0.0.1:{server.port}/3"}, look)
        client: Any = (redis.Redis if kind == "redis-client" else redis.asyncio.Redis)(
            port=server.port, db=3, decode_responses=True)
        return Endpoint({"connection": client}, look)
    if kind in ("unix-url", "unix-client"):
        unix: RedisServer = fixture("unix_server")
        socket = unix.socket  # type: ignore[attr-defined]
        look = stack.enter_context(redis.Redis(unix_socket_path=str(socket), db=2))
        look.flushall()
        if kind == "unix-url":
            return Endpoint({"url": f"unix://{socket}?db=2"}, look)
        return Endpoint({"connection": redis.Redis(unix_socket_path=str(socket), db=2)}, look)
    if kind in ("sentinel-url", "sentinel-master", "async-sentinel-master"):
        sentinels: RedisSentinelSet = fixture("fresh_redis_sentinel")
        look = stack.enter_context(redis.Redis(port=sentinels.primary_port(), db=1))
        if kind == "sentinel-url":
            return Endpoint({"url": sentinels.sentinel_url.removesuffix("/0") + "/1"}, look)
        factory: Any = (redis.sentinel.Sentinel if kind == "sentinel-master"
                        else redis.asyncio.sentinel.Sentinel)
        sentinel = factory(sentinels.sentinel_addresses, socket_timeout=5)
        return Endpoint({"connection": sentinel.master_for(sentinels.service_name, db=1)},
                        look)
    cluster: RedisCluster = fixture("fresh_redis_cluster")
    look = stack.enter_context(redis.cluster.RedisCluster(startup_nodes=_cluster_nodes(cluster)))
    name = cluster.names_on_distinct_primaries(2)[1]
    if kind == "cluster-url":
        seeds = ",".join(f"127.0.0.1:{p}" for p in cluster.primary_ports())
        return Endpoint({"url": f"redis+cluster://{seeds}"}, look, name)
    if kind == "cluster-node-url":  # a node that does not hold the queue: MOVED, then cluster
        holder = cluster.port_for_slot(cluster.key_slot(f"aq:{{{name}}}:queued"))
        other = next(p for p in cluster.primary_ports() if p != holder)
        return Endpoint({"url": f"redis://127.0.0.1:{other}/0"}, look, name)
    if kind == "cluster-client":
        return Endpoint({"connection": redis.cluster.RedisCluster(
            startup_nodes=_cluster_nodes(cluster))}, look, name)
    return Endpoint({"connection": redis.asyncio.cluster.RedisCluster(
        startup_nodes=_async_cluster_nodes(cluster))}, look, name)


async def test_producers_and_worker_use_the_server_the_user_points_at(
    endpoint: Endpoint
) -> None:
    async with AsyncQueue(endpoint.queue, **endpoint.where) as producer:
        async_job = await producer.enqueue(tasks.add, 1, 2)
    with Queue(endpoint.queue, **endpoint.where) as sync_producer:
        sync_job = await asyncio.to_thread(sync_producer.enqueue, tasks.add, 3, 4)
    prefix = f"aq:{{{endpoint.queue}}}:job:"
    assert endpoint.look.hget(prefix + async_job.id, "status") == b"queued"
    assert endpoint.look.hget(prefix + sync_job.id, "status") == b"queued"

    worker = Worker([endpoint.queue], burst=True, imports=["tests.tasks"], **endpoint.where)
    await asyncio.wait_for(worker.run(install_signal_handlers=False), 30)
    assert worker.stats.processed == 2
    for job in (async_job, sync_job):
        assert endpoint.look.hget(prefix + job.id, "status") == JobStatus.FINISHED.value.encode()
    async with AsyncQueue(endpoint.queue, **endpoint.where) as reader:
        assert await reader.wait_for_result(async_job.id, timeout=5) == 3
    with Queue(endpoint.queue, **endpoint.where) as sync_reader:
        assert sync_reader.wait_for_result(sync_job.id, timeout=5) == 7
