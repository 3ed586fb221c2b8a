"""One server or a cluster, behind one interface, so the core tests run on both.

``topology`` (a fixture parametrized over ``single`` and ``cluster``) hands a test the
URL, three queue names (on three different primaries of the cluster) and ways to look
at the servers behind aqueue's back: a redis-py client and per-node command counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from tests import tasks
from tests.redis_servers import RedisServer
from tests.servers.cluster import RedisCluster as TestCluster


@dataclass
class Topology:
    kind: str  # "single" or "cluster"
    url: str
    names: list[str]  # three queues; on a cluster, on three different primaries
    primaries: list[int]  # ports of the primaries

    def client(self) -> redis.Redis | RedisCluster:
        """A plain redis-py client of the servers (close it after use)."""
        if self.kind == "cluster":
            nodes = [ClusterNode("127.0.0.1", p)  # type: ignore[no-untyped-call]
                     for p in self.primaries]
            return RedisCluster(startup_nodes=nodes)
        return redis.Redis.from_url(self.url)

    def calls(self, *commands: str) -> dict[int, int]:
        """Per primary: how many times it ran ``commands`` so far (INFO commandstats)."""
        counts = {}
        for port in self.primaries:
            with redis.Redis(port=port) as node:
                stats: dict[str, Any] = node.info("commandstats")
            counts[port] = sum(int(stats.get(f"cmdstat_{c.lower()}", {}).get("calls", 0))
                               for c in commands)
        return counts

    def port_of(self, queue: str) -> int:
        """The primary that holds ``queue``'s keys."""
        if self.kind == "single":
            return self.primaries[0]
        with redis.Redis(port=self.primaries[0]) as node:
            slot = int(node.execute_command("CLUSTER", "KEYSLOT", f"aq:{{{queue}}}:queued"))
        with self.client() as client:
            assert isinstance(client, RedisCluster)
            node = client.nodes_manager.get_node_from_slot(slot)
            return int(node.port)


@pytest.fixture(params=["single", "cluster"])
def topology(request: pytest.FixtureRequest) -> Iterator[Topology]:
    """The session's single server or cluster, flushed for this test."""
    tasks.reset()
    if request.param == "single":
        server: RedisServer = request.getfixturevalue("redis_server")
        url: str = request.getfixturevalue("redis_url")
        yield Topology("single", url, ["qa", "qb", "qc"], [server.port])
        return
    cluster: TestCluster = request.getfixturevalue("fresh_redis_cluster")
    names = cluster.names_on_distinct_primaries(3)
    primaries = cluster.primary_ports()
    seeds = ",".join(f"127.0.0.1:{port}" for port in primaries)
    yield Topology("cluster", f"redis+cluster://{seeds}", names, primaries)
