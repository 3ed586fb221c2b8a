"""Waiting for job results from threads: the same protocol as ``ResultListener`` (subscribe
to the job's events channel, then ``watch.lua``), with one reader thread and one subscriber
socket per server for all the waiting threads of a ``Queue``."""

from __future__ import annotations

import collections
import contextlib
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import hiredis
from redis.exceptions import ResponseError

from aqueue.client.ops import Op, QueueOps
from aqueue.errors import QueueClosed
from aqueue.store.errors import ConnectionLost, redirect_of
from aqueue.store.sync_resp import SyncConnection
from aqueue.store.sync_store import SyncStore
from aqueue.store.urls import Address

Runner = Callable[[Op[Any]], Any]
MAX_REDIRECTS = 8


class _Subscriber:
    """A subscribed socket; the reader thread reads it, waiting threads write to it."""

    def __init__(self, store: SyncStore, address: Address) -> None:
        connection = SyncConnection(store.config, address, db=0,
                                    name=f"{store.name or 'aqueue'}:results")
        connection.call("PING")  # connects and runs the handshake
        assert connection._sock is not None
        self.connection = connection
        self.sock = connection._sock
        self.sock.settimeout(None)
        self.address = address
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.channels: set[bytes] = set()
        self.confirmed: dict[bytes, threading.Event] = {}
        self.unconfirmed: collections.deque[bytes] = collections.deque()  # SSUBSCRIBEs sent
        self.refused: dict[bytes, ResponseError] = {}  # error replies to them (MOVED...)
        self.write_lock = threading.RLock()
        self.lost = False

    def subscribe(self, channel: bytes) -> None:
        with self.write_lock:  # replies come in the order of the commands
            self.unconfirmed.append(channel)
            try:
                self.send("SSUBSCRIBE", channel)
            except ConnectionLost:
                self.unconfirmed.pop()
                raise

    def send(self, *command: Any) -> None:
        with self.write_lock:
            try:
                self.sock.sendall(hiredis.pack_command(command))
            except OSError as exc:
                raise ConnectionLost(f"subscriber connection to {self.address} lost: {exc}",
                                     sent=False) from None


class SyncResultListener:
    def __init__(self, store: SyncStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._subscribers: dict[Address, _Subscriber] = {}
        self._waiters: dict[bytes, set[threading.Event]] = {}
        self._streams: dict[bytes, set[queue.SimpleQueue[tuple[bytes, bytes]]]] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def connections(self) -> int:
        """Subscriber connections open now (one per server with waiters or followers)."""
        with self._lock:
            return sum(1 for s in self._subscribers.values() if not s.lost)

    def wait(self, ops: QueueOps, job_id: str, timeout: float | None,
             run: Runner) -> dict[bytes, bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        channel = ops.keys.events(job_id)
        wake = threading.Event()
        with self._lock:
            self._waiters.setdefault(channel, set()).add(wake)
        try:
            while True:
                self._subscribe(channel)
                data: dict[bytes, bytes] | None = run(ops.watch(job_id))
                if data is not None:
                    return data
                remaining = None if deadline is None else deadline - time.monotonic()
                if (remaining is not None and remaining <= 0) or not wake.wait(remaining):
                    raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
                if self._closed:
                    raise QueueClosed("the queue was closed while waiting")
                wake.clear()
        finally:
            with self._lock:
                waiters = self._waiters.get(channel, set())
                waiters.discard(wake)
                if not waiters:
                    self._waiters.pop(channel, None)
                    if channel not in self._streams:
                        self._unsubscribe(channel)

    def follow(self, channel: bytes, inbox: queue.SimpleQueue[tuple[bytes, bytes]]) -> None:
        """Put every message on ``channel`` in ``inbox`` as (channel, payload); b"recheck":
        the subscription was lost, follow again. Until ``unfollow``."""
        with self._lock:
            self._streams.setdefault(channel, set()).add(inbox)
        self._subscribe(channel)

    def unfollow(self, channel: bytes, inbox: queue.SimpleQueue[tuple[bytes, bytes]]) -> None:
        with self._lock:
            inboxes = self._streams.get(channel, set())
            inboxes.discard(inbox)
            if inboxes:
                return
            self._streams.pop(channel, None)
            if channel not in self._waiters:
                self._unsubscribe(channel)

    def _subscribe(self, channel: bytes) -> None:
        for attempt in range(MAX_REDIRECTS + 1):
            address = self.store.address_for(channel)
            refused = self._subscribe_at(address, channel)
            if refused is None:
                return
            redirect = redirect_of(refused)
            if redirect is None or attempt == MAX_REDIRECTS:
                raise refused
            # MOVED: a stale slot map, or a redis:// URL pointing at another cluster node
            self.store._learn(address, refused)
            if redirect.ask:  # the slot is migrating: wait until it has landed
                time.sleep(0.05 * (attempt + 1))

    def _subscribe_at(self, address: Address, channel: bytes) -> ResponseError | None:
        with self._lock:
            if self._closed:
                raise QueueClosed("the queue is closed")
            subscriber = self._subscribers.get(address)
            if subscriber is None or subscriber.lost:
                subscriber = _Subscriber(self.store, address)
                self._subscribers[address] = subscriber
                self._selector.register(subscriber.sock, selectors.EVENT_READ, subscriber)
                self._start_thread()
            if channel in subscriber.channels:
                return None
            confirmed = subscriber.confirmed.setdefault(channel, threading.Event())
            subscriber.channels.add(channel)
        subscriber.subscribe(channel)
        if not confirmed.wait(self.store.config.socket_timeout) or subscriber.lost:
            raise ConnectionLost(f"Redis at {address} did not confirm the subscription",
                                 sent=True)
        refused = subscriber.refused.pop(channel, None)
        if refused is not None:
            with self._lock:
                subscriber.channels.discard(channel)
                subscriber.confirmed.pop(channel, None)
        return refused

    def _unsubscribe(self, channel: bytes) -> None:
        for subscriber in self._subscribers.values():
            if channel in subscriber.channels and not subscriber.lost:
                subscriber.channels.discard(channel)
                subscriber.confirmed.pop(channel, None)
                with contextlib.suppress(ConnectionLost):
                    subscriber.send("SUNSUBSCRIBE", channel)

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._read_forever, daemon=True,
                                            name="aqueue-result-listener")
            self._thread.start()
        self._wake_write.send(b"x")

    def _read_forever(self) -> None:
        while not self._closed:
            for key, _ in self._selector.select(timeout=1.0):
                subscriber = key.data
                if subscriber is None:
                    self._wake_read.recv(4096)
                    continue
                try:
                    data = subscriber.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._lose(subscriber)
                    continue
                subscriber.reader.feed(data)
                while (reply := subscriber.reader.gets()) is not False:
                    self._handle(subscriber, reply)

    def _handle(self, subscriber: _Subscriber, reply: Any) -> None:
        if isinstance(reply, ResponseError):  # the reply to the oldest SSUBSCRIBE
            if subscriber.unconfirmed:
                refused = subscriber.unconfirmed.popleft()
                subscriber.refused[refused] = reply
                event = subscriber.confirmed.get(refused)
                if event is not None:
                    event.set()
            return
        if not isinstance(reply, list) or len(reply) != 3:
            return
        kind, channel = reply[0], reply[1]
        if kind == b"ssubscribe":
            with contextlib.suppress(ValueError):
                subscriber.unconfirmed.remove(channel)
            event = subscriber.confirmed.get(channel)
            if event is not None:
                event.set()
        elif kind == b"smessage":
            self._wake(channel, reply[2])
        elif kind == b"sunsubscribe" and channel in subscriber.channels:
            subscriber.channels.discard(channel)  # the slot moved: resubscribe elsewhere
            self._wake(channel)

    def _wake(self, channel: bytes, payload: bytes = b"recheck") -> None:
        with self._lock:
            waiters = list(self._waiters.get(channel, ()))
            inboxes = list(self._streams.get(channel, ()))
        for wake in waiters:
            wake.set()
        for inbox in inboxes:
            inbox.put((channel, payload))

    def _lose(self, subscriber: _Subscriber) -> None:
        subscriber.lost = True
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(subscriber.sock)
        subscriber.connection.close()
        for event in subscriber.confirmed.values():
            event.set()
        with self._lock:
            if self._subscribers.get(subscriber.address) is subscriber:
                del self._subscribers[subscriber.address]
        for channel in list(subscriber.channels):
            self._wake(channel)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            subscribers = list(self._subscribers.values())
            self._subscribers.clear()
            waiters = [w for ws in self._waiters.values() for w in ws]
            inboxes = [i for s in self._streams.values() for i in s]
        for inbox in inboxes:
            inbox.put((b"", b"closed"))
        for subscriber in subscribers:
            subscriber.lost = True
            subscriber.connection.close()
        for wake in waiters:
            wake.set()
        self._wake_write.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
