"""aqueue needs Redis 7.0 (sharded pub/sub, script flags): an older server is refused at
start with one line naming its version, instead of failing later in a script. The old
server is the real one behind a proxy that rewrites the version INFO reports."""

from __future__ import annotations

import subprocess
import sys

import redis

from tests.redis_servers import RedisServer
from tests.servers.fixtures import ProxyFactory
from tests.servers.proxy import FaultyProxy
from tests.test_cli import ROOT


def pretend_6(redis_server: RedisServer, faulty_proxy: ProxyFactory) -> FaultyProxy:
    """A proxy to the real server whose INFO says major version 6."""
    with redis.Redis(port=redis_server.port) as client:
        major = str(client.info("server")["redis_version"]).split(".")[0]
    assert len(major) == 1, f"cannot rewrite major version {major} to 6 at the same length"
    proxy = faulty_proxy(redis_server.port)
    proxy.rewrite(f"redis_version:{major}.".encode(), b"redis_version:6.")
    return proxy


def test_the_proxy_makes_the_server_report_6(redis_server: RedisServer,
                                             faulty_proxy: ProxyFactory) -> None:
    proxy = pretend_6(redis_server, faulty_proxy)
    with redis.Redis.from_url(proxy.url) as client:
        assert str(client.info("server")["redis_version"]).startswith("6.")


def test_a_worker_refuses_redis_older_than_7_with_one_line(redis_server: RedisServer,
                                                           faulty_proxy: ProxyFactory) -> None:
    proxy = pretend_6(redis_server, faulty_proxy)
    done = subprocess.run(
        [sys.executable, "-m", "aqueue", "worker", "old", "--url", proxy.url, "--import",
         "tests.tasks", "--burst"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "is too old: aqueue needs Redis 7.0 or newer" in lines[0]
    assert f"127.0.0.1:{proxy.port}" in lines[0]
