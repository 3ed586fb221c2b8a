"""A real Redis Cluster on loopback ports: primaries, replicas, failovers, live reshards.

``RedisCluster()`` starts the processes in parallel, assigns slots with ADDSLOTSRANGE,
joins the nodes with CLUSTER MEET and attaches replicas with CLUSTER REPLICATE (faster
than ``redis-cli --cluster create``, which sleeps between its steps), then waits until
every node reports ``cluster_state:ok`` and all agree on the slot map.
"""

from __future__ import annotations

import itertools
import math
import time
from types import TracebackType
from typing import Any, Self

from tests.servers import resharding
from tests.servers.cluster_view import ClusterNode, NodeView, parse_cluster_nodes
from tests.servers.process import ServerProcess, start_all
from tests.servers.slots import SLOTS, key_slot
from tests.servers.waiting import NotReady, wait_until

NODE_TIMEOUT_MS = 1000
STABLE_TIMEOUT = 30.0


def node_args(node_timeout_ms: int) -> list[str]:
    return [
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", str(node_timeout_ms),
        "--cluster-announce-ip", "127.0.0.1",
        # A replica may take over however long it was cut off: tests kill nodes at will.
        "--cluster-replica-validity-factor", "0",
        "--save", "", "--appendonly", "no",
        # Redis 7 waits 5 s before a diskless full sync by default; replicas sync at once.
        "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
        "--enable-debug-command", "local",
    ]


def split_slots(primaries: int) -> list[tuple[int, int]]:
    """``primaries`` contiguous, nearly equal slot ranges covering 0..16383."""
    bounds = [round(i * SLOTS / primaries) for i in range(primaries + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(primaries)]


def command(port: int, *args: Any) -> Any:
    """One command to one node, on a short-lived connection."""
    with ServerProcess.client_for(port) as client:
        return client.execute_command(*args)


class RedisCluster:
    """``primaries`` primaries with ``replicas_per_primary`` replicas each."""

    def __init__(
        self, primaries: int = 3, replicas_per_primary: int = 1, *,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
    ) -> None:
        if not isinstance(primaries, int) or primaries < 3:
            raise ValueError(f"a cluster needs at least 3 primaries, got {primaries!r}")
        if not isinstance(replicas_per_primary, int) or replicas_per_primary < 0:
            raise ValueError(f"replicas_per_primary must be >= 0, got {replicas_per_primary!r}")
        if not isinstance(node_timeout_ms, int) or node_timeout_ms < 100:
            raise ValueError(f"node_timeout_ms must be >= 100, got {node_timeout_ms!r}")
        total = primaries * (1 + replicas_per_primary)
        self.primary_count = primaries
        self.servers = [ServerProcess(f"cluster-{i}", node_args(node_timeout_ms),
                                      cluster_bus=True) for i in range(total)]
        self.ids: dict[int, str] = {}
        started = time.monotonic()
        try:
            start_all(self.servers)
            self._form(primaries, replicas_per_primary)
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - started

    def _form(self, primaries: int, replicas_per_primary: int) -> None:
        for epoch, server in enumerate(self.servers, 1):
            self.ids[server.port] = command(server.port, "CLUSTER", "MYID")
            # Distinct epochs up front, as redis-cli does: no collisions to resolve later.
            command(server.port, "CLUSTER", "SET-CONFIG-EPOCH", epoch)
        heads, followers = self.servers[:primaries], self.servers[primaries:]
        for (first, last), server in zip(split_slots(primaries), heads, strict=True):
            command(server.port, "CLUSTER", "ADDSLOTSRANGE", first, last)
        for server in self.servers[1:]:
            command(self.servers[0].port, "CLUSTER", "MEET", "127.0.0.1", server.port,
                    server.bus_port)
        wait_until(self._check_all_met, STABLE_TIMEOUT, "every node to know every other",
                   self.describe)
        for i, server in enumerate(followers):
            primary = heads[i // replicas_per_primary]
            command(server.port, "CLUSTER", "REPLICATE", self.ids[primary.port])
        self.wait_until_stable()

    def _check_all_met(self) -> None:
        for server in self.servers:
            view = self.view(server.port)
            known = {n.id for n in view.nodes.values() if not n.flags & {"handshake", "noaddr"}}
            if known != set(self.ids.values()):
                raise NotReady(f"port {server.port} knows {len(known)} of {len(self.ids)}")

    # -- addresses -----------------------------------------------------------------------

    @property
    def startup_url(self) -> str:
        """The URL of a running primary, for a cluster client's start-up node."""
        for port in self.primary_ports():
            if self.server(port).alive():
                return f"redis://127.0.0.1:{port}/0"
        raise RuntimeError(f"no primary is running\n{self.describe()}")

    @property
    def node_urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def server(self, port: int) -> ServerProcess:
        for server in self.servers:
            if server.port == port:
                return server
        raise ValueError(f"no node of this cluster listens on port {port!r} "
                         f"(its ports: {self.ports})")

    # -- topology ------------------------------------------------------------------------

    def view(self, port: int) -> NodeView:
        """What the node on ``port`` says about the cluster (CLUSTER NODES)."""
        return parse_cluster_nodes(command(port, "CLUSTER", "NODES"))

    def nodes(self) -> list[ClusterNode]:
        """Every node, as the first running node reports them, by port."""
        for server in self.servers:
            if server.alive():
                return sorted(self.view(server.port).nodes.values(), key=lambda n: n.port)
        raise RuntimeError("no node of the cluster is running")

    def primary_ports(self) -> list[int]:
        """Ports of the primaries that own slots (a failed primary that lost its slots to
        its replica is not one)."""
        return [n.port for n in self.nodes() if n.role == "primary" and n.slots]

    def url(self) -> str:
        """A ``redis+cluster://`` URL seeded with the primaries of now."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.primary_ports())

    def replica_ports(self) -> list[int]:
        return [n.port for n in self.nodes() if n.role == "replica"]

    def node_id(self, port: int) -> str:
        self.server(port)
        return self.ids[port]

    def port_for_slot(self, slot: int) -> int:
        """The port of the primary that owns ``slot``."""
        _check_slot(slot)
        for node in self.nodes():
            if node.role == "primary" and node.owns(slot):
                return node.port
        raise RuntimeError(f"no primary owns slot {slot}\n{self.describe()}")

    key_slot = staticmethod(key_slot)

    def names_on_distinct_primaries(self, n: int, prefix: str = "q") -> list[str]:
        """``n`` queue names (``prefix`` + a number) whose keys ``aq:{NAME}:...`` live on
        ``n`` different primaries."""
        if not isinstance(prefix, str) or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be a str without braces, got {prefix!r}")
        owners = {n.port: n for n in self.nodes() if n.role == "primary" and n.slots}
        if not isinstance(n, int) or not 1 <= n <= len(owners):
            raise ValueError(f"n must be between 1 and the {len(owners)} primaries, got {n!r}")
        names: list[str] = []
        used: set[int] = set()
        for i in itertools.count():
            name = f"{prefix}{i}"
            slot = key_slot(f"aq:{{{name}}}:x")
            port = next(p for p, node in owners.items() if node.owns(slot))
            if port not in used:
                used.add(port)
                names.append(name)
                if len(names) == n:
                    return names
        raise AssertionError("unreachable")

    # -- waiting -------------------------------------------------------------------------

    def wait_until_stable(self, timeout: float = STABLE_TIMEOUT) -> float:
        """Wait until every running node reports ``cluster_state:ok``, all agree on the
        slot map and roles, no running node is flagged as failing, running primaries
        cover all slots and running replicas are in sync with running primaries.
        Returns the seconds it took."""
        return wait_until(self._check_stable, timeout, "a stable cluster", self.describe)

    def _check_stable(self) -> None:
        running = {s.port for s in self.servers if s.alive()}
        views: dict[int, NodeView] = {}
        for port in sorted(running):
            info = command(port, "CLUSTER", "INFO")
            if "cluster_state:ok" not in info:
                raise NotReady(f"port {port}: cluster_state is not ok")
            views[port] = self.view(port)
        if len({view.topology() for view in views.values()}) != 1:
            raise NotReady("the nodes disagree on roles or slots")
        view = next(iter(views.values()))
        for port, other in views.items():
            bad = [n.port for n in other.nodes.values() if n.port in running
                   and n.flags & {"fail", "fail?", "handshake", "noaddr"}]
            if bad:
                raise NotReady(f"port {port} flags running nodes {bad}")
        owned = sum(last - first + 1 for n in view.nodes.values() if n.port in running
                    and n.role == "primary" for first, last in n.slots)
        if owned != SLOTS:
            raise NotReady(f"running primaries own {owned} of {SLOTS} slots")
        by_id = {n.id: n for n in view.nodes.values()}
        for node in view.nodes.values():
            primary = by_id.get(node.primary_id or "")
            if node.role == "replica" and node.port in running and primary is not None \
                    and primary.port in running:
                info = command(node.port, "INFO", "replication")
                if info.get("master_link_status") != "up" or info.get("master_port") != \
                        primary.port:
                    raise NotReady(f"replica {node.port} is not in sync with {primary.port}")

    def describe(self) -> str:
        """Every node's state, view and log tail, for failure messages."""
        parts = []
        for server in self.servers:
            head = f"node {server.port} (bus {server.bus_port}, {server.dir}): "
            if not server.alive():
                parts.append(head + "not running")
                continue
            try:
                state = command(server.port, "CLUSTER", "INFO").split()[0]
                nodes = command(server.port, "CLUSTER", "NODES").strip()
                parts.append(f"{head}{state}\n    " + nodes.replace("\n", "\n    "))
            except Exception as exc:  # describing must not hide the original failure
                parts.append(f"{head}unreadable ({exc})")
            parts.append(server.log_tail(8))
        return "\n".join(parts)

    # -- faults --------------------------------------------------------------------------

    def failover(self, primary_port: int, timeout: float = STABLE_TIMEOUT) -> float:
        """CLUSTER FAILOVER on a replica of the primary on ``primary_port``; waits until
        the replica is primary, the old primary its replica, and the cluster is stable.
        Returns the seconds it took."""
        nodes = {n.id: n for n in self.nodes()}
        old = next((n for n in nodes.values() if n.port == primary_port), None)
        if old is None or old.role != "primary" or not old.slots:
            raise ValueError(f"port {primary_port!r} is not a primary owning slots "
                             f"(primaries: {self.primary_ports()})")
        if not self.server(primary_port).alive():
            raise ValueError(f"primary {primary_port} is not running: its replica takes over "
                             "by itself (wait_until_stable)")
        candidates = [n for n in nodes.values() if n.primary_id == old.id
                      and self.server(n.port).alive()]
        if not candidates:
            raise ValueError(f"primary {primary_port} has no running replica")
        new = candidates[0]
        started = time.monotonic()
        command(new.port, "CLUSTER", "FAILOVER")

        def swapped() -> None:
            if self.view(new.port).myself.role != "primary":
                raise NotReady(f"{new.port} is not primary yet")
            if self.view(primary_port).myself.primary_id != new.id:
                raise NotReady(f"{primary_port} does not follow {new.port} yet")
            self._check_stable()

        wait_until(swapped, timeout, f"{new.port} to take over from {primary_port}",
                   self.describe)
        return time.monotonic() - started

    def kill(self, port: int) -> None:
        """SIGKILL one node. A killed primary's replica takes over after the node
        timeout; ``wait_until_stable()`` waits for that."""
        self.server(port).kill()

    def restart(self, port: int, timeout: float = STABLE_TIMEOUT) -> float:
        """Start a killed node again (same ports, same directory and nodes.conf) and
        wait until the cluster is stable; returns the seconds that took."""
        self.server(port).start()
        return self.wait_until_stable(timeout)

    # -- resharding ----------------------------------------------------------------------

    def _slot_move(self, slot: int, to_port: int) -> resharding.SlotMove:
        _check_slot(slot)
        target = next((n for n in self.nodes() if n.port == to_port), None)
        if target is None or target.role != "primary" or not target.slots:
            raise ValueError(f"port {to_port!r} is not a primary owning slots "
                             f"(primaries: {self.primary_ports()})")
        source = self.port_for_slot(slot)
        if source == to_port:
            raise ValueError(f"slot {slot} is already on port {to_port}")
        return resharding.SlotMove(slot, source, self.ids[source], to_port, target.id)

    def begin_migration(self, slot: int, to_port: int, keys: int | None = None) -> int:
        """Mark ``slot`` IMPORTING on ``to_port`` and MIGRATING on its owner, and move
        ``keys`` of its keys (default: half, rounded up). Clients now get ASK for keys
        already moved, TRYAGAIN for multi-key commands over both halves. Returns how
        many keys moved."""
        if keys is not None and (not isinstance(keys, int) or keys < 0):
            raise ValueError(f"keys must be a count >= 0 or None, got {keys!r}")
        move = self._slot_move(slot, to_port)
        resharding.mark(move)
        limit = math.ceil(resharding.keys_left(move) / 2) if keys is None else keys
        return resharding.move_keys(move, limit)

    def finish_migration(self, slot: int, to_port: int) -> int:
        """Move the rest of a migrating slot's keys, assign the slot to ``to_port`` on
        every primary and wait until all nodes agree. Returns how many keys moved."""
        move = self._slot_move(slot, to_port)
        if self.view(move.source_port).migrating.get(slot) != move.target_id:
            raise ValueError(f"slot {slot} is not migrating to port {to_port}: "
                             "call begin_migration first")
        moved = resharding.move_keys(move)
        others = [p for p in self.primary_ports() if p not in (move.source_port, to_port)]
        resharding.assign(move, others)

        def assigned() -> None:
            self._check_stable()
            if self.port_for_slot(slot) != to_port:
                raise NotReady(f"slot {slot} is not on {to_port} yet")

        wait_until(assigned, STABLE_TIMEOUT, f"slot {slot} to be on {to_port}", self.describe)
        return moved

    def migrate_slot(self, slot: int, to_port: int) -> int:
        """A whole live reshard of ``slot`` to ``to_port``; returns how many keys moved."""
        self.begin_migration(slot, to_port, keys=0)
        return self.finish_migration(slot, to_port)

    # -- data and lifecycle --------------------------------------------------------------

    def flushall(self) -> None:
        """FLUSHALL on every running primary, and WAIT for its running replicas."""
        nodes = self.nodes()
        for primary in nodes:
            if primary.role != "primary" or not self.server(primary.port).alive():
                continue
            replicas = sum(1 for n in nodes if n.primary_id == primary.id
                           and self.server(n.port).alive())
            command(primary.port, "FLUSHALL")
            command(primary.port, "WAIT", replicas, 2000)

    def heal(self) -> None:
        """Undo what a test left: restart killed nodes, drop unfinished slot migrations
        (keys half moved are left where they are, for ``flushall`` to delete), wait
        until the cluster is stable."""
        for server in self.servers:
            if not server.alive():
                server.start()
        for server in self.servers:
            view = self.view(server.port)
            # Valkey shows a primary's migration on its replicas too; SETSLOT is for primaries.
            if (view.migrating or view.importing) and view.myself.role == "primary":
                resharding.clear(server.port, {*view.migrating, *view.importing})
        self.wait_until_stable()

    def close(self) -> None:
        """Kill every node and delete its directory."""
        for server in self.servers:
            server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_slot(slot: int) -> None:
    if not isinstance(slot, int) or not 0 <= slot < SLOTS:
        raise ValueError(f"slot must be an int in 0..{SLOTS - 1}, got {slot!r}")
