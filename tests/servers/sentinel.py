"""A real Sentinel set-up on loopback ports: one primary, one replica, three sentinels.

Sentinels declare the primary down after ``DOWN_AFTER_MS`` without an answer and need 2
of 3 to agree (the quorum), so a killed primary is replaced within a few seconds.
Every address is announced as 127.0.0.1 (``replica-announce-ip``, ``sentinel
announce-ip``), so nothing learns a non-loopback address from a sentinel or a primary.
"""

from __future__ import annotations

import re
import time
from types import TracebackType
from typing import Any, Self

import redis

from tests.servers.process import ServerProcess, start_all
from tests.servers.waiting import NotReady, wait_until

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
QUORUM = 2
SENTINELS = 3
TIMEOUT = 30.0
SERVICE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def command(port: int, *args: Any) -> Any:
    with ServerProcess.client_for(port) as client:
        return client.execute_command(*args)


def pairs(reply: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """A SENTINEL reply's fields as a dict (redis-py turns the RESP2 ``[key, value,
    ...]`` into one for some subcommands and versions, not all)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def sentinel_config(service: str, primary_port: int) -> str:
    return "\n".join([
        "sentinel resolve-hostnames no",
        "sentinel announce-hostnames no",
        "sentinel announce-ip 127.0.0.1",
        f"sentinel monitor {service} 127.0.0.1 {primary_port} {QUORUM}",
        f"sentinel down-after-milliseconds {service} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {service} {FAILOVER_TIMEOUT_MS}",
        f"sentinel parallel-syncs {service} 1",
        "",
    ])


class RedisSentinelSet:
    """A primary, a replica and three sentinels watching them as ``service_name``."""

    def __init__(self, service_name: str = "aqmaster", min_replicas_to_write: int = 0) -> None:
        if not isinstance(service_name, str) or not SERVICE_NAME.fullmatch(service_name):
            raise ValueError(f"service_name must be letters, digits, '_', '.' or '-', "
                             f"got {service_name!r}")
        _check_count(min_replicas_to_write)
        self.service_name = service_name
        self.initial_min_replicas = min_replicas_to_write
        self.min_replicas_to_write = min_replicas_to_write
        self.data_nodes: list[ServerProcess] = []
        self.sentinels: list[ServerProcess] = []
        self.last_promotion_seconds: float | None = None
        started = time.monotonic()
        try:
            primary = ServerProcess("sentinel-data-0", self._data_args(None))
            self.data_nodes.append(primary)
            primary.start()
            replica = ServerProcess("sentinel-data-1", self._data_args(primary.port))
            self.data_nodes.append(replica)
            replica.start()
            config = sentinel_config(service_name, primary.port)
            self.sentinels = [ServerProcess(f"sentinel-{i}", ["--sentinel"], config=config)
                              for i in range(SENTINELS)]
            start_all(self.sentinels)
            self.wait_until_healthy()
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - started

    def _data_args(self, replica_of: int | None) -> list[str]:
        args = [
            "--save", "", "--appendonly", "no", "--replica-announce-ip", "127.0.0.1",
            "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
            "--min-replicas-to-write", str(self.min_replicas_to_write),
            "--enable-debug-command", "local",
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        return args

    # -- addresses -----------------------------------------------------------------------

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    @property
    def sentinel_url(self) -> str:
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinel_addresses)
        return f"redis+sentinel://{hosts}/{self.service_name}/0"

    def server(self, port: int) -> ServerProcess:
        for server in (*self.data_nodes, *self.sentinels):
            if server.port == port:
                return server
        raise ValueError(f"no process of this sentinel set listens on port {port!r} "
                         f"(data nodes {[s.port for s in self.data_nodes]}, "
                         f"sentinels {[s.port for s in self.sentinels]})")

    # -- what the sentinels report -------------------------------------------------------

    def reported_primaries(self) -> dict[int, int]:
        """Each running sentinel's port -> the primary port it reports."""
        reported = {}
        for sentinel in self.sentinels:
            if sentinel.alive():
                reply = command(sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                self.service_name)
                reported[sentinel.port] = int(reply[1])
        return reported

    def primary_port(self) -> int:
        """The primary's port, as the first running sentinel reports it."""
        reported = self.reported_primaries()
        if not reported:
            raise RuntimeError("no sentinel is running")
        return next(iter(reported.values()))

    def replica_ports(self) -> list[int]:
        """Ports of the replicas the first running sentinel lists and does not think
        down."""
        sentinel = next(s for s in self.sentinels if s.alive())
        replies = command(sentinel.port, "SENTINEL", "REPLICAS", self.service_name)
        return sorted(int(r["port"]) for r in map(pairs, replies) if r["flags"] == "slave")

    def announced_addresses(self) -> set[str]:
        """Every IP the sentinels and the primary tell clients and each other."""
        ips: set[str] = set()
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            ips.add(pairs(command(sentinel.port, "SENTINEL", "MASTER", self.service_name))["ip"])
            for kind in ("REPLICAS", "SENTINELS"):
                replies = command(sentinel.port, "SENTINEL", kind, self.service_name)
                ips.update(pairs(reply)["ip"] for reply in replies)
        info = command(self.primary_port(), "INFO", "replication")
        ips.update(value["ip"] for key, value in info.items() if key.startswith("slave"))
        return ips

    # -- waiting -------------------------------------------------------------------------

    def wait_until_healthy(self, timeout: float = TIMEOUT) -> float:
        """Wait until every running sentinel reports the same running primary, knows the
        other sentinels and sees every other running data node as an up replica in sync
        with it. Returns the seconds it took."""
        return wait_until(self._check_healthy, timeout, "a healthy sentinel set",
                          self.describe)

    def _check_healthy(self) -> None:
        reported = set(self.reported_primaries().values())
        if len(reported) != 1:
            raise NotReady(f"sentinels report primaries {sorted(reported)}")
        primary = reported.pop()
        if not self.server(primary).alive() or command(primary, "ROLE")[0] != "master":
            raise NotReady(f"reported primary {primary} is not a running primary")
        replicas = {s.port for s in self.data_nodes if s.alive() and s.port != primary}
        for port in replicas:
            info = command(port, "INFO", "replication")
            if info.get("master_port") != primary or info.get("master_link_status") != "up":
                raise NotReady(f"replica {port} is not in sync with {primary}")
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            master = pairs(command(sentinel.port, "SENTINEL", "MASTER", self.service_name))
            if master["flags"] != "master":
                raise NotReady(f"sentinel {sentinel.port} flags the primary {master['flags']}")
            if int(master["num-other-sentinels"]) < SENTINELS - 1:
                raise NotReady(f"sentinel {sentinel.port} knows "
                               f"{master['num-other-sentinels']} other sentinels")
            listed = command(sentinel.port, "SENTINEL", "REPLICAS", self.service_name)
            up = {int(r["port"]) for r in map(pairs, listed) if r["flags"] == "slave"}
            if not replicas <= up:
                raise NotReady(f"sentinel {sentinel.port} sees replicas {sorted(up)} up, "
                               f"not all of {sorted(replicas)}")

    def _wait_for_promotion(self, old: int, started: float, what: str) -> float:
        def promoted() -> None:
            reported = set(self.reported_primaries().values())
            if len(reported) != 1 or old in reported:
                raise NotReady(f"sentinels report primaries {sorted(reported)}")
            new = reported.pop()
            if command(new, "ROLE")[0] != "master":
                raise NotReady(f"{new} does not answer ROLE master yet")
            if self.min_replicas_to_write == 0:  # else writes wait for a replica
                command(new, "SET", "aq-sentinel-probe", "1")

        wait_until(promoted, TIMEOUT, what, self.describe)
        self.last_promotion_seconds = time.monotonic() - started
        return self.last_promotion_seconds

    def describe(self) -> str:
        parts = []
        for server in (*self.data_nodes, *self.sentinels):
            head = f"{server.label} on {server.port} ({server.dir}): "
            if not server.alive():
                parts.append(head + "not running")
                continue
            try:
                if server in self.sentinels:
                    state = pairs(command(server.port, "SENTINEL", "MASTER", self.service_name))
                    parts.append(head + f"reports {state['ip']}:{state['port']} "
                                        f"flags {state['flags']}")
                else:
                    parts.append(head + f"ROLE {command(server.port, 'ROLE')[:3]}")
            except Exception as exc:  # describing must not hide the original failure
                parts.append(f"{head}unreadable ({exc})")
            parts.append(server.log_tail(8))
        return "\n".join(parts)

    # -- faults --------------------------------------------------------------------------

    def failover(self, demote_old: bool = True) -> float:
        """SENTINEL FAILOVER; waits until every sentinel reports the new primary, it
        answers ROLE master and accepts writes. Then, with ``demote_old``, makes the old
        primary its replica and waits until the set is healthy: the sentinels would do
        that themselves only some 11 s later (measured), the old primary still taking
        writes meanwhile. Returns the seconds until the new primary accepted writes."""
        old = self.primary_port()
        sentinel = next(s for s in self.sentinels if s.alive())
        started = time.monotonic()
        command(sentinel.port, "SENTINEL", "FAILOVER", self.service_name)
        seconds = self._wait_for_promotion(old, started, f"a failover away from {old}")
        if demote_old:
            self._demote_stale_primaries()
            self.wait_until_healthy()
        return seconds

    def kill_primary(self) -> float:
        """SIGKILL the primary; waits until every running sentinel reports the replica
        as primary, it answers ROLE master and (with ``min_replicas_to_write`` 0) accepts
        writes. Returns the seconds from the kill until then."""
        old = self.primary_port()
        started = time.monotonic()
        self.server(old).kill()
        return self._wait_for_promotion(old, started, f"a replica to replace killed {old}")

    def kill(self, port: int) -> None:
        """SIGKILL any one process of the set (a data node or a sentinel)."""
        self.server(port).kill()

    def restart(self, port: int) -> float:
        """Start a killed process again on its port, in its directory. A data node that
        is not the reported primary comes back as its replica (where the sentinels
        would turn it). Waits until the set is healthy; returns the seconds that took."""
        server = self.server(port)
        if server in self.data_nodes:
            primary = self.primary_port()
            server.args = self._data_args(None if primary == port else primary)
        server.start()
        return self.wait_until_healthy()

    def _demote_stale_primaries(self) -> None:
        """REPLICAOF the reported primary for any other data node answering ROLE master,
        but only while all running sentinels agree on the primary (mid-failover, the
        first sentinel's answer may be the stale one)."""
        reported = set(self.reported_primaries().values())
        if len(reported) != 1:
            return
        primary = reported.pop()
        for server in self.data_nodes:
            if server.port != primary and server.alive() and \
                    command(server.port, "ROLE")[0] == "master":
                command(server.port, "REPLICAOF", "127.0.0.1", primary)

    def set_min_replicas_to_write(self, n: int) -> None:
        """``min-replicas-to-write`` on every data node (and on later restarts)."""
        _check_count(n)
        self.min_replicas_to_write = n
        for server in self.data_nodes:
            if server.alive():
                command(server.port, "CONFIG", "SET", "min-replicas-to-write", n)

    # -- data and lifecycle --------------------------------------------------------------

    def flushall(self) -> None:
        """FLUSHALL on the primary, and WAIT for its replica."""
        primary = self.primary_port()
        replicas = sum(1 for s in self.data_nodes if s.alive() and s.port != primary)
        command(primary, "FLUSHALL")
        command(primary, "WAIT", replicas, 2000)

    def heal(self) -> None:
        """Undo what a test left: restart killed processes, make a stale primary a
        replica, restore ``min_replicas_to_write``, wait until healthy."""
        for sentinel in self.sentinels:
            if not sentinel.alive():
                sentinel.start()
        for server in self.data_nodes:
            if not server.alive():
                primary = self.primary_port()
                server.args = self._data_args(None if primary == server.port else primary)
                server.start()
        self.set_min_replicas_to_write(self.initial_min_replicas)

        def healed() -> None:  # a failover may still be under way: demote until it is not
            self._demote_stale_primaries()
            self._check_healthy()

        wait_until(healed, TIMEOUT, "a healed sentinel set", self.describe)

    def client(self) -> redis.Redis:
        """A plain client of the current primary."""
        return ServerProcess.client_for(self.primary_port())

    def close(self) -> None:
        for server in (*self.sentinels, *self.data_nodes):
            server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_count(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"min_replicas_to_write must be an int >= 0, got {n!r}")
