"""The fault-injecting proxy: what each fault does to a real Redis behind it.

Plain redis-py and raw sockets only (no aqueue).
"""

from __future__ import annotations

import socket
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.redis_servers import RedisServer
from tests.servers.fixtures import ProxyFactory


def direct(port: int, socket_timeout: float = 5) -> redis.Redis:
    """A plain client that never retries (a retry would hide a dropped connection)."""
    return redis.Redis(port=port, decode_responses=True, retry=Retry(NoBackoff(), 0),
                       socket_timeout=socket_timeout)


@pytest.fixture
def redis_server_port(redis_url: str, redis_server: RedisServer) -> int:
    """The port of the suite's plain, flushed redis-server."""
    return redis_server.port


def test_proxy_passes_commands_through(redis_server_port: int, faulty_proxy: ProxyFactory) -> None:
    proxy = faulty_proxy(redis_server_port)
    with direct(proxy.port) as client:
        assert client.incr("passed") == 1
    assert proxy.stats.accepted == 1


def test_drop_before_forwarding_loses_the_request(
    redis_server_port: int, faulty_proxy: ProxyFactory,
) -> None:
    proxy = faulty_proxy(redis_server_port)
    with direct(proxy.port) as client, direct(redis_server_port) as redis_itself:
        client.ping()
        proxy.drop(before=1.0)
        with pytest.raises(redis.ConnectionError):
            client.incr("counter")
        assert redis_itself.get("counter") is None
    assert (proxy.dropped_before, proxy.dropped_after) == (1, 0)


def test_drop_after_forwarding_runs_the_command_but_loses_the_reply(
    redis_server_port: int, faulty_proxy: ProxyFactory,
) -> None:
    proxy = faulty_proxy(redis_server_port)
    with direct(proxy.port) as client, direct(redis_server_port) as redis_itself:
        client.ping()
        proxy.drop(after=1.0)
        with pytest.raises(redis.ConnectionError):
            client.incr("counter")
        assert redis_itself.get("counter") == "1"
    assert (proxy.dropped_before, proxy.dropped_after) == (0, 1)


def ping_outcomes(port: int, times: int) -> list[bool]:
    """Send one PING per new connection; whether each was answered."""
    outcomes = []
    for _ in range(times):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            outcomes.append(sock.recv(64) == b"+PONG\r\n")
    return outcomes


def test_seeded_proxies_drop_the_same_chunks(
    redis_server_port: int, faulty_proxy: ProxyFactory,
) -> None:
    runs = []
    for _ in range(2):
        proxy = faulty_proxy(redis_server_port, seed=7)
        proxy.drop(before=0.25, after=0.25)
        runs.append(ping_outcomes(proxy.port, 40))
        assert proxy.dropped_before + proxy.dropped_after == runs[-1].count(False)
    assert runs[0] == runs[1]
    assert 5 < runs[0].count(False) < 35


def test_blackhole_forwards_nothing_until_connections_are_closed(
    redis_server_port: int, faulty_proxy: ProxyFactory,
) -> None:
    proxy = faulty_proxy(redis_server_port)
    proxy.blackhole()
    with direct(proxy.port, socket_timeout=0.3) as client, pytest.raises(redis.TimeoutError):
        client.set("held", "back")
    assert proxy.close_all() == 1
    proxy.pass_through()
    with direct(proxy.port) as client, direct(redis_server_port) as redis_itself:
        assert redis_itself.get("held") is None
        assert client.ping()


def test_leaving_the_blackhole_delivers_what_was_held_back(
    redis_server_port: int, faulty_proxy: ProxyFactory,
) -> None:
    proxy = faulty_proxy(redis_server_port)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        proxy.blackhole()
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nheld\r\n$4\r\nback\r\n")
        time.sleep(0.2)
        with direct(redis_server_port) as redis_itself:
            assert redis_itself.get("held") is None
            proxy.pass_through()
            assert sock.recv(64) == b"+OK\r\n"
            assert redis_itself.get("held") == "back"
