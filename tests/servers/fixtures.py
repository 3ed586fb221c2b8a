"""Pytest fixtures for the servers of this package (registered in tests/conftest.py).

The session-scoped ``redis_cluster`` and ``redis_sentinel`` start once, when a test
first asks for them. ``fresh_redis_cluster`` and ``fresh_redis_sentinel`` hand the same
ones to a test healed (killed processes restarted, unfinished migrations and stale
primaries undone, settings restored) and flushed. Roles may have moved between tests
(failovers are not undone): ask the fixture for ports, never assume them. ``three``:
three queues of the fresh cluster, each on a primary of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from aqueue import AsyncQueue
from tests.servers.cluster import RedisCluster
from tests.servers.proxy import FaultyProxy
from tests.servers.sentinel import RedisSentinelSet

ProxyFactory = Callable[..., FaultyProxy]


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """3 primaries, 3 replicas, for the whole session."""
    with RedisCluster() as cluster:
        yield cluster


@pytest.fixture
def fresh_redis_cluster(redis_cluster: RedisCluster) -> RedisCluster:
    """The session's cluster, healed and empty."""
    redis_cluster.heal()
    redis_cluster.flushall()
    return redis_cluster


@pytest.fixture
async def three(fresh_redis_cluster: RedisCluster) -> AsyncIterator[list[AsyncQueue]]:
    """Three queues on the session's cluster, each on a primary of its own."""
    url = fresh_redis_cluster.url()
    names = fresh_redis_cluster.names_on_distinct_primaries(3, prefix="q3-")
    queues = [AsyncQueue(name, url=url) for name in names]
    yield queues
    for q in queues:
        await q.close()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinelSet]:
    """A primary, a replica and 3 sentinels (service ``aqmaster``), for the session."""
    with RedisSentinelSet() as sentinel_set:
        yield sentinel_set


@pytest.fixture
def fresh_redis_sentinel(redis_sentinel: RedisSentinelSet) -> RedisSentinelSet:
    """The session's sentinel set, healed and empty."""
    redis_sentinel.heal()
    redis_sentinel.flushall()
    return redis_sentinel


@pytest.fixture
def faulty_proxy() -> Iterator[ProxyFactory]:
    """``faulty_proxy(target_port, seed=...)`` starts a ``FaultyProxy``; all the test
    started are closed after it."""
    proxies: list[FaultyProxy] = []

    def start(target_port: int, *, seed: int | None = None) -> FaultyProxy:
        proxy = FaultyProxy(target_port, seed=seed)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()
