"""A TCP proxy in front of one Redis, with faults that tests switch at run time.

Each time a chunk arrives from a client, the proxy may drop the connection:

- ``drop(before=p)``: before forwarding the chunk. Redis never sees the request, so the
  client knows the outcome (nothing happened), though not that it knows it.
- ``drop(after=p)``: after forwarding it, when Redis's reply comes back (which is then
  discarded). Redis ran the command; the client never hears. For a blocking command
  the drop waits for its reply.

``rewrite(old, new)`` replaces bytes in Redis's replies (same length, so that bulk
lengths stay right): a server that tells another version, say.

``blackhole()`` stalls everything: connections are accepted, nothing is forwarded
either way. Leaving it delivers what was held back, as a healed partition does; call
``close_all()`` first to model connections lost in it. Faults are drawn from a
``random.Random(seed)``, so the same traffic with the same seed drops the same chunks.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self, TypeVar

from tests.redis_servers import free_port

T = TypeVar("T")
Side = Literal["client", "server"]
CHUNK = 65536


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started."""

    accepted: int = 0
    dropped_before: int = 0  # connections dropped before forwarding a chunk
    dropped_after: int = 0  # connections dropped after forwarding one, before its reply
    closed_by_close_all: int = 0
    refused_upstream: int = 0  # clients closed because the target did not accept


@dataclass(eq=False)
class _Link:
    client: socket.socket
    server: socket.socket | None = None
    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)
    doomed: bool = False  # drop when the reply to the forwarded chunk arrives
    events: dict[Side, int] = field(default_factory=lambda: {"client": 0, "server": 0})


class FaultyProxy:
    """A proxy on a free loopback port that forwards to ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int, *, seed: int | None = None) -> None:
        if not isinstance(target_port, int) or not 0 < target_port < 65536:
            raise ValueError(f"target_port must be a TCP port, got {target_port!r}")
        self.target_port = target_port
        self.seed = seed
        self._rng = random.Random(seed)
        self._p_before = 0.0
        self._p_after = 0.0
        self._blackholed = False
        self._rewrites: list[tuple[bytes, bytes]] = []
        self._stats = ProxyStats()
        self._links: set[_Link] = set()
        self._calls: list[tuple[Callable[[], object], threading.Event, list[object]]] = []
        self._calls_lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for attempt in range(3):  # free_port's port may be taken before we bind it
            try:
                self._listener.bind(("127.0.0.1", free_port()))
                break
            except OSError:
                if attempt == 2:
                    raise
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._run_calls)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"proxy-{self.port}",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    # -- faults (called from tests; run in the proxy's thread) ---------------------------

    def pass_through(self) -> None:
        """Forward everything, drop nothing."""
        self._call(lambda: self._set_mode(0.0, 0.0, blackholed=False))

    def drop(self, before: float = 0.0, after: float = 0.0) -> None:
        """For each client chunk: drop the connection with probability ``before`` without
        forwarding it, or with probability ``after`` once Redis has answered it."""
        for name, p in (("before", before), ("after", after)):
            if not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
        if before + after > 1.0:
            raise ValueError(f"before + after must not exceed 1, got {before} + {after}")
        self._call(lambda: self._set_mode(float(before), float(after), blackholed=False))

    def rewrite(self, old: bytes, new: bytes) -> None:
        """From now on, replace ``old`` by ``new`` (as long) in what Redis answers."""
        if len(old) != len(new):
            raise ValueError("a rewrite must keep the length (bulk strings count bytes)")
        self._call(lambda: self._rewrites.append((old, new)))

    def blackhole(self) -> None:
        """Accept connections, forward nothing either way, until another mode is set."""
        self._call(lambda: self._set_mode(0.0, 0.0, blackholed=True))

    def close_all(self) -> int:
        """Close every open connection (both ends); returns how many."""
        return self._call(self._close_all)

    @property
    def stats(self) -> ProxyStats:
        return self._call(lambda: self._stats)

    @property
    def dropped_before(self) -> int:
        return self.stats.dropped_before

    @property
    def dropped_after(self) -> int:
        return self.stats.dropped_after

    def open_connections(self) -> int:
        return self._call(lambda: len(self._links))

    def close(self) -> None:
        """Close every connection and stop listening."""
        if self._thread.is_alive():
            self._call(self._stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the proxy's thread and return its result."""
        if not self._thread.is_alive():
            raise RuntimeError(f"proxy on port {self.port} is closed")
        done = threading.Event()
        result: list[object] = []
        with self._calls_lock:
            self._calls.append((fn, done, result))
        self._wake_write.send(b"x")
        if not done.wait(timeout=10):
            raise RuntimeError(f"proxy on port {self.port} did not answer")
        return result[0]  # type: ignore[return-value]

    # -- the loop (proxy thread only) ----------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for key, mask in self._selector.select(timeout=1.0):
                    if callable(key.data):  # the listener or the wake-up socket
                        key.data(mask)
                    else:
                        link, side = key.data
                        self._on_ready(link, side, mask)
        finally:
            for link in list(self._links):
                self._close_link(link)
            self._selector.close()
            for sock in (self._listener, self._wake_read, self._wake_write):
                sock.close()

    def _run_calls(self, _mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_read.recv(4096)
        with self._calls_lock:
            calls, self._calls = self._calls, []
        for fn, done, result in calls:
            result.append(fn())
            done.set()

    def _set_mode(self, before: float, after: float, *, blackholed: bool) -> None:
        self._p_before, self._p_after, self._blackholed = before, after, blackholed
        for link in list(self._links):
            if link.server is None and not blackholed:
                self._connect(link)
            if link in self._links:
                self._update(link)

    def _stop(self) -> None:
        self._stopping = True

    def _close_all(self) -> int:
        count = len(self._links)
        for link in list(self._links):
            self._close_link(link)
        self._count(closed_by_close_all=count)
        return count

    def _count(self, **increments: int) -> None:
        current = self._stats
        self._stats = ProxyStats(**{name: getattr(current, name) + increments.get(name, 0)
                                    for name in ProxyStats.__dataclass_fields__})

    def _accept(self, _mask: int) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        link = _Link(client)
        self._links.add(link)
        self._count(accepted=1)
        if not self._blackholed:
            self._connect(link)
        if link in self._links:
            self._update(link)

    def _connect(self, link: _Link) -> None:
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            self._count(refused_upstream=1)
            self._close_link(link)
            return
        server.setblocking(False)
        link.server = server

    def _on_ready(self, link: _Link, side: Side, mask: int) -> None:
        if link not in self._links:
            return
        try:
            if mask & selectors.EVENT_WRITE:
                self._flush(link, side)
            if mask & selectors.EVENT_READ and link in self._links:
                self._read(link, side)
        except OSError:
            self._close_link(link)
            return
        if link in self._links:
            self._update(link)

    def _read(self, link: _Link, side: Side) -> None:
        sock = link.client if side == "client" else link.server
        assert sock is not None
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        if not data:  # hand on what the other side has not read yet, then close
            with contextlib.suppress(OSError):
                self._flush(link, "server" if side == "client" else "client")
            self._close_link(link)
        elif side == "server":
            if link.doomed:
                self._count(dropped_after=1)
                self._close_link(link)
            else:
                for old, new in self._rewrites:
                    data = data.replace(old, new)
                link.to_client += data
        else:
            if not link.doomed and self._p_before + self._p_after > 0:
                draw = self._rng.random()
                if draw < self._p_before:
                    self._count(dropped_before=1)
                    self._close_link(link)
                    return
                link.doomed = draw < self._p_before + self._p_after
            link.to_server += data

    def _flush(self, link: _Link, side: Side) -> None:
        sock, buffer = ((link.client, link.to_client) if side == "client"
                        else (link.server, link.to_server))
        if sock is not None and buffer:
            with contextlib.suppress(BlockingIOError):
                del buffer[:sock.send(buffer)]

    def _update(self, link: _Link) -> None:
        """(Re)register both sockets for what they are waiting for now."""
        for side in ("client", "server"):
            sock = link.client if side == "client" else link.server
            if sock is None:
                continue
            pending = link.to_client if side == "client" else link.to_server
            wanted = 0 if self._blackholed else selectors.EVENT_READ | (
                selectors.EVENT_WRITE if pending else 0)
            current = link.events[side]
            if wanted == current:
                continue
            if current == 0:
                self._selector.register(sock, wanted, (link, side))
            elif wanted == 0:
                self._selector.unregister(sock)
            else:
                self._selector.modify(sock, wanted, (link, side))
            link.events[side] = wanted

    def _close_link(self, link: _Link) -> None:
        self._links.discard(link)
        for side in ("client", "server"):
            sock = link.client if side == "client" else link.server
            if sock is None:
                continue
            if link.events[side]:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                link.events[side] = 0
            sock.close()
