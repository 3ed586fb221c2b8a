"""The test servers themselves: a real cluster, a real Sentinel set, their processes.

Plain redis-py only (no aqueue): these check the infrastructure other tests stand on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import redis.cluster
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from tests.servers.cluster import RedisCluster
from tests.servers.cluster_view import addresses
from tests.servers.process import ServerProcess
from tests.servers.sentinel import RedisSentinelSet
from tests.servers.slots import key_slot

REPO_ROOT = Path(__file__).resolve().parents[1]


def direct(port: int, socket_timeout: float = 5) -> redis.Redis:
    """A plain, non-cluster client of one node, which never retries."""
    return redis.Redis(port=port, decode_responses=True, retry=Retry(NoBackoff(), 0),
                       socket_timeout=socket_timeout)


def cluster_client(cluster: RedisCluster) -> redis.cluster.RedisCluster:
    return redis.cluster.RedisCluster.from_url(cluster.startup_url, decode_responses=True)


def keys_in_slot_of(name: str, count: int) -> list[str]:
    return [f"aq:{{{name}}}:k{i}" for i in range(count)]


# -- cluster -------------------------------------------------------------------------------

def test_key_slot_matches_cluster_keyslot(fresh_redis_cluster: RedisCluster) -> None:
    keys: list[str | bytes] = [
        "", "foo", "aq:{email}:queued", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
        "foo{bar}{zap}", "{}", "}{", "{a", "a}", "ünïcödé{tág}", b"\xff\xfe{\x80}", b"\x00",
        *(f"q{i}" for i in range(200)),
    ]
    with direct(fresh_redis_cluster.primary_ports()[0]) as node:
        for key in keys:
            assert key_slot(key) == node.execute_command("CLUSTER", "KEYSLOT", key), key


def test_cluster_is_ok_on_every_node_with_one_slot_map(fresh_redis_cluster: RedisCluster) -> None:
    cluster = fresh_redis_cluster
    print(f"cluster start-up: {cluster.startup_seconds:.2f} s")
    nodes = cluster.nodes()
    assert len(cluster.primary_ports()) == 3
    assert len(cluster.replica_ports()) == 3
    assert sorted(first for n in nodes for first, _ in n.slots)[0] == 0
    assert sum(last - first + 1 for n in nodes for first, last in n.slots) == 16384
    for port in cluster.ports:
        with direct(port) as node:
            assert "cluster_state:ok" in node.execute_command("CLUSTER", "INFO")
            announced = addresses(node.execute_command("CLUSTER", "NODES"))
        assert {address.split(":")[0] for address in announced} == {"127.0.0.1"}
        assert {n.topology() for n in cluster.view(port).nodes.values()} == \
            {n.topology() for n in nodes}


def test_names_on_distinct_primaries_live_on_distinct_primaries(
    fresh_redis_cluster: RedisCluster,
) -> None:
    names = fresh_redis_cluster.names_on_distinct_primaries(3, prefix="jobs-")
    assert all(name.startswith("jobs-") for name in names)
    with cluster_client(fresh_redis_cluster) as client:
        for name in names:
            client.set(f"aq:{{{name}}}:x", name)
    holders = set()
    for port in fresh_redis_cluster.primary_ports():
        with direct(port) as node:
            held = [key.split("{")[1].split("}")[0] for key in node.keys("*")]  # its own keys
        assert len(held) == 1, (port, held)
        holders.add(held[0])
    assert holders == set(names)


def test_names_on_distinct_primaries_rejects_more_names_than_primaries(
    fresh_redis_cluster: RedisCluster,
) -> None:
    with pytest.raises(ValueError, match="between 1 and the 3 primaries"):
        fresh_redis_cluster.names_on_distinct_primaries(4)


def test_migrated_slot_keys_are_on_the_new_node_and_the_old_answers_moved(
    fresh_redis_cluster: RedisCluster,
) -> None:
    cluster = fresh_redis_cluster
    keys = keys_in_slot_of("mig", 250)
    slot = key_slot(keys[0])
    source = cluster.port_for_slot(slot)
    target = next(port for port in cluster.primary_ports() if port != source)
    with cluster_client(cluster) as client:
        for key in keys:
            client.set(key, key)
    assert cluster.migrate_slot(slot, target) == 250
    assert cluster.port_for_slot(slot) == target
    with direct(target) as node:
        assert node.mget(keys) == keys
    with direct(source) as node, pytest.raises(redis.exceptions.MovedError) as moved:
        node.get(keys[0])
    assert (moved.value.slot_id, moved.value.port) == (slot, target)
    with cluster_client(cluster) as client:
        assert client.get(keys[-1]) == keys[-1]


def test_half_migrated_slot_answers_ask_for_moved_keys(fresh_redis_cluster: RedisCluster) -> None:
    cluster = fresh_redis_cluster
    keys = keys_in_slot_of("half", 10)
    slot = key_slot(keys[0])
    source = cluster.port_for_slot(slot)
    target = next(port for port in cluster.primary_ports() if port != source)
    with cluster_client(cluster) as client:
        for key in keys:
            client.set(key, key)
    assert cluster.begin_migration(slot, target) == 5
    with direct(source) as node, direct(target) as new_node:
        left = node.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
        moved = [key for key in keys if key not in left]
        assert len(moved) == 5
        with pytest.raises(redis.exceptions.MovedError):
            new_node.get(moved[0])  # the target serves it only after ASKING
        new_node.execute_command("ASKING")
        assert new_node.get(moved[0]) == moved[0]
        with pytest.raises(redis.exceptions.AskError) as ask:
            node.get(moved[0])
        assert (ask.value.slot_id, ask.value.port) == (slot, target)
        with pytest.raises(redis.exceptions.TryAgainError):
            node.mget(keys)  # some keys here, some there
    with cluster_client(cluster) as client:
        assert [client.get(key) for key in keys] == keys  # redis-py follows ASK
    assert cluster.finish_migration(slot, target) == 5
    with direct(target) as node:
        assert node.mget(keys) == keys


def test_a_slot_migrates_while_a_client_drains_it(fresh_redis_cluster: RedisCluster) -> None:
    cluster = fresh_redis_cluster
    queue, done = "aq:{busy}:queued", "aq:{busy}:done"
    slot = key_slot(queue)
    source = cluster.port_for_slot(slot)
    target = next(port for port in cluster.primary_ports() if port != source)
    with cluster_client(cluster) as client, client.pipeline() as pipe:
        pipe.rpush(queue, *range(5000))
        for i in range(5000):
            pipe.set(f"aq:{{busy}}:job:{i}", i)
        pipe.execute()
    pop = "local v = redis.call('LPOP', KEYS[1]) " \
          "if v then redis.call('DEL', KEYS[2] .. v) redis.call('INCR', KEYS[3]) end return v"
    stop = threading.Event()
    refused: list[Exception] = []

    def drain() -> None:
        with cluster_client(cluster) as client:
            while not stop.is_set():
                try:  # TRYAGAIN while the job keys are split between the two nodes
                    client.eval(pop, 3, queue, "aq:{busy}:job:", done)
                except redis.exceptions.ClusterError as exc:
                    refused.append(exc)

    drainer = threading.Thread(target=drain)
    drainer.start()
    try:
        time.sleep(0.1)
        cluster.begin_migration(slot, target)
        time.sleep(0.2)
        cluster.finish_migration(slot, target)
        time.sleep(0.1)
    finally:
        stop.set()
        drainer.join()
    print(f"live reshard under load: {len(refused)} pops refused (TRYAGAIN) meanwhile")
    with direct(target) as node:
        finished, left = int(node.get(done) or 0), node.llen(queue)
        assert finished > 0 and left > 0 and finished + left == 5000  # drained mid-way
        assert node.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 2 + left


def test_cluster_failover_swaps_primary_and_replica(fresh_redis_cluster: RedisCluster) -> None:
    cluster = fresh_redis_cluster
    old = cluster.primary_ports()[0]
    old_id = cluster.node_id(old)
    new = next(n.port for n in cluster.nodes() if n.primary_id == old_id)
    seconds = cluster.failover(old)
    print(f"cluster failover: {seconds:.2f} s")
    roles = {n.port: n for n in cluster.nodes()}
    assert roles[new].role == "primary" and roles[new].slots
    assert roles[old].role == "replica" and roles[old].primary_id == cluster.node_id(new)


def test_killed_cluster_primary_is_replaced_by_its_replica(
    fresh_redis_cluster: RedisCluster,
) -> None:
    cluster = fresh_redis_cluster
    victim = cluster.primary_ports()[-1]
    replica = next(n.port for n in cluster.nodes() if n.primary_id == cluster.node_id(victim))
    slots = next(n.slots for n in cluster.nodes() if n.port == victim)
    cluster.kill(victim)
    seconds = cluster.wait_until_stable()
    print(f"cluster promotion after SIGKILL of a primary: {seconds:.2f} s")
    assert victim not in cluster.primary_ports()
    assert next(n.slots for n in cluster.nodes() if n.port == replica) == slots
    print(f"killed primary rejoining as replica: {cluster.restart(victim):.2f} s")
    rejoined = next(n for n in cluster.nodes() if n.port == victim)
    assert (rejoined.role, rejoined.primary_id) == ("replica", cluster.node_id(replica))


def test_heal_drops_an_unfinished_migration(fresh_redis_cluster: RedisCluster) -> None:
    cluster = fresh_redis_cluster
    slot = key_slot("aq:{heal}:x")
    source = cluster.port_for_slot(slot)
    target = next(port for port in cluster.primary_ports() if port != source)
    cluster.begin_migration(slot, target)
    cluster.heal()
    assert cluster.port_for_slot(slot) == source
    assert not any(cluster.view(port).migrating or cluster.view(port).importing
                   for port in cluster.ports)


# -- sentinel ------------------------------------------------------------------------------

def test_sentinel_set_announces_only_loopback_addresses(
    fresh_redis_sentinel: RedisSentinelSet,
) -> None:
    print(f"sentinel set start-up: {fresh_redis_sentinel.startup_seconds:.2f} s")
    assert fresh_redis_sentinel.announced_addresses() == {"127.0.0.1"}
    ports = ",".join(f"127.0.0.1:{port}" for _, port in fresh_redis_sentinel.sentinel_addresses)
    assert fresh_redis_sentinel.sentinel_url == f"redis+sentinel://{ports}/aqmaster/0"


def test_sentinel_failover_changes_the_reported_primary(
    fresh_redis_sentinel: RedisSentinelSet,
) -> None:
    # redis.sentinel has no annotations.
    sentinels: Any = cast(Any, Sentinel)(fresh_redis_sentinel.sentinel_addresses,
                                         socket_timeout=2)
    old = fresh_redis_sentinel.primary_port()
    assert sentinels.discover_master("aqmaster") == ("127.0.0.1", old)
    replica = fresh_redis_sentinel.replica_ports()
    sentinels.master_for("aqmaster", decode_responses=True).set("before", "failover")
    seconds = fresh_redis_sentinel.failover()
    print(f"sentinel failover (SENTINEL FAILOVER): {seconds:.2f} s")
    assert [fresh_redis_sentinel.primary_port()] == replica
    assert sentinels.discover_master("aqmaster") == ("127.0.0.1", replica[0])
    assert fresh_redis_sentinel.replica_ports() == [old]
    assert sentinels.master_for("aqmaster", decode_responses=True).get("before") == "failover"


def test_killing_the_sentinel_primary_promotes_its_replica(
    fresh_redis_sentinel: RedisSentinelSet,
) -> None:
    old = fresh_redis_sentinel.primary_port()
    replica = fresh_redis_sentinel.replica_ports()
    seconds = fresh_redis_sentinel.kill_primary()
    print(f"sentinel promotion after SIGKILL of the primary: {seconds:.2f} s")
    assert set(fresh_redis_sentinel.reported_primaries().values()) == set(replica)
    print(f"killed primary rejoining as replica: {fresh_redis_sentinel.restart(old):.2f} s")
    # It comes back as a replica; on a loaded machine the full resync it asks for can stall
    # the new primary past down-after-milliseconds (1 s here), and the sentinels may then
    # rightly fail over once more, to it. Either way both nodes serve the set again.
    primary = fresh_redis_sentinel.primary_port()
    assert sorted([primary, *fresh_redis_sentinel.replica_ports()]) == sorted([old, *replica])


def test_heal_restores_a_set_whose_primary_was_killed(
    fresh_redis_sentinel: RedisSentinelSet,
) -> None:
    old = fresh_redis_sentinel.primary_port()
    fresh_redis_sentinel.kill(old)  # and leave it to heal(), mid-failover
    fresh_redis_sentinel.heal()
    assert fresh_redis_sentinel.server(old).alive()
    assert len({fresh_redis_sentinel.primary_port(), *fresh_redis_sentinel.replica_ports()}) == 2


def test_min_replicas_to_write_refuses_writes_without_enough_replicas(
    fresh_redis_sentinel: RedisSentinelSet,
) -> None:
    fresh_redis_sentinel.set_min_replicas_to_write(2)  # there is one replica
    with direct(fresh_redis_sentinel.primary_port()) as primary, \
            pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        primary.set("k", "v")


# -- processes never outlive the test run --------------------------------------------------

def spawn_owner(script: str) -> tuple[subprocess.Popen[str], int]:
    """A Python process that starts a redis-server and prints its pid."""
    owner = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert owner.stdout is not None
    return owner, int(owner.stdout.readline())


def wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                return True  # a zombie: dead, not yet reaped by its (dead) parent
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.02)
    return False


START_ONE = textwrap.dedent("""
    from tests.servers.process import ServerProcess
    server = ServerProcess("owned")
    server.start()
    print(server.process.pid, flush=True)
""")


def test_servers_die_when_their_owner_is_sigkilled() -> None:
    owner, pid = spawn_owner(START_ONE + "import time; time.sleep(60)\n")
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert wait_gone(pid)


def test_servers_die_when_their_owner_exits_without_closing_them() -> None:
    owner, pid = spawn_owner(START_ONE)
    assert owner.wait(timeout=10) == 0
    assert wait_gone(pid)


def test_a_server_started_from_a_passing_thread_outlives_the_thread() -> None:
    server = ServerProcess("from-thread")
    try:
        thread = threading.Thread(target=server.start)
        thread.start()
        thread.join()
        time.sleep(0.2)
        with server.client() as client:
            assert client.ping()
    finally:
        server.close()
