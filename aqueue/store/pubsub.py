"""A subscriber connection: (S)SUBSCRIBE to channels, messages handed to a callback.

Used for the result listener (a channel per waited-for job), for the worker's control
channel (cancel a running job) and for Sentinel's ``+switch-master`` announcements.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterable
from typing import Any, cast

import hiredis
from redis.exceptions import ResponseError

from aqueue.store.errors import ConnectionLost
from aqueue.store.resp import cannot_connect, check_handshake, handshake, tls_context
from aqueue.store.urls import Address, ServerConfig

OnMessage = Callable[[bytes, bytes], None]
OnUnsubscribed = Callable[[bytes], None]


class _SubscriberProtocol(asyncio.Protocol):
    def __init__(self, owner: Subscriber) -> None:
        self.owner = owner
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.replies: collections.deque[asyncio.Future[Any]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            self.owner._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._on_lost(exc)


class Subscriber:
    """One subscribed connection to one server. ``sharded=True`` uses SSUBSCRIBE (the
    channels of one command must share a cluster slot)."""

    def __init__(self, config: ServerConfig, address: Address, on_message: OnMessage, *,
                 sharded: bool = True, on_unsubscribed: OnUnsubscribed | None = None,
                 on_lost: Callable[[], None] | None = None, auth: bool = True,
                 name: str | None = None) -> None:
        self.config = config
        self.address = address
        self.on_message = on_message
        self.on_unsubscribed = on_unsubscribed
        self.on_lost = on_lost
        self.sharded = sharded
        self.auth = auth
        self.name = name
        self.channels: set[bytes] = set()
        self._protocol: _SubscriberProtocol | None = None
        self._pending: dict[bytes, list[asyncio.Future[None]]] = {}
        self._unconfirmed: collections.deque[list[bytes]] = collections.deque()  # per command
        self._unsubscribing: collections.Counter[bytes] = collections.Counter()
        self._handshake: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._lost = False
        self._unsent: list[bytes] = []

    @property
    def connected(self) -> bool:
        return self._protocol is not None and not self._lost

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        tls = tls_context(self.config.tls) if self.config.tls else None
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                if self.address.is_unix:
                    _, protocol = await loop.create_unix_connection(
                        lambda: _SubscriberProtocol(self), self.address.host)
                else:
                    _, protocol = await loop.create_connection(
                        lambda: _SubscriberProtocol(self), self.address.host, self.address.port,
                        ssl=tls, server_hostname=self.address.host if tls else None)
        except (OSError, TimeoutError) as exc:
            raise cannot_connect(str(self.address), exc, self.config.tls) from None
        self._protocol = protocol
        self._lost = False
        commands = handshake(self.config, db=0, name=self.name) if self.auth else []
        if commands:
            futures = [loop.create_future() for _ in commands]
            self._handshake.extend(futures)
            self._write(commands)
            replies = await asyncio.gather(*futures)
            check_handshake(str(self.address), commands, replies)

    async def subscribe(self, channels: Iterable[bytes]) -> None:
        """Subscribe and wait until Redis confirms (messages published after this returns
        are delivered)."""
        wanted = [c for c in channels if c not in self.channels]
        if not wanted:
            return
        loop = asyncio.get_running_loop()
        futures = []
        for channel in wanted:
            future: asyncio.Future[None] = loop.create_future()
            self._pending.setdefault(channel, []).append(future)
            futures.append(future)
            self.channels.add(channel)
        self._write([("SSUBSCRIBE" if self.sharded else "SUBSCRIBE", *wanted)])
        self._unconfirmed.append(list(wanted))
        await asyncio.gather(*futures)

    def unsubscribe(self, channels: Iterable[bytes]) -> None:
        gone = [c for c in channels if c in self.channels]
        if not gone or not self.connected:
            self.channels.difference_update(gone)
            return
        for channel in gone:
            self.channels.discard(channel)
            self._unsubscribing[channel] += 1
        self._write([("SUNSUBSCRIBE" if self.sharded else "UNSUBSCRIBE", *gone)])

    def _write(self, commands: list[tuple[Any, ...]]) -> None:
        if self._protocol is None or self._protocol.transport is None or self._lost:
            raise ConnectionLost(f"subscriber connection to {self.address} is closed", sent=False)
        # What one event-loop pass writes goes out in one system call (10,000 waiters
        # subscribe, or unsubscribe as they wake, in the same pass).
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._flush)
        self._unsent.extend(hiredis.pack_command(c) for c in commands)

    def _flush(self) -> None:
        data = b"".join(self._unsent)
        self._unsent.clear()
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None and not self._lost:
            protocol.transport.write(data)

    def _on_reply(self, reply: Any) -> None:
        if self._handshake and not (isinstance(reply, list) and len(reply) == 3):
            future = self._handshake.popleft()
            if not future.done():
                future.set_result(reply)
            return
        if isinstance(reply, ResponseError):
            # The reply to the oldest unconfirmed (S)SUBSCRIBE (a MOVED, a NOPERM...): only
            # its channels failed; other subscriptions on this connection stand.
            channels = self._unconfirmed.popleft() if self._unconfirmed else list(self._pending)
            for channel in channels:
                self.channels.discard(channel)
                for future in self._pending.pop(channel, []):
                    if not future.done():
                        future.set_exception(reply)
            return
        kind, channel, payload = reply[0], reply[1], reply[2]
        if kind in (b"smessage", b"message"):
            self.on_message(channel, payload)
        elif kind in (b"ssubscribe", b"subscribe"):
            if self._unconfirmed and channel in self._unconfirmed[0]:
                self._unconfirmed[0].remove(channel)
                if not self._unconfirmed[0]:
                    self._unconfirmed.popleft()
            for future in self._pending.pop(channel, []):
                if not future.done():
                    future.set_result(None)
        elif kind in (b"sunsubscribe", b"unsubscribe"):
            if self._unsubscribing[channel] > 0:
                self._unsubscribing[channel] -= 1
            else:  # the server dropped it (the slot moved): the owner subscribes elsewhere
                self.channels.discard(channel)
                if self.on_unsubscribed is not None:
                    self.on_unsubscribed(channel)

    def _on_lost(self, exc: Exception | None) -> None:
        self._lost = True
        error = ConnectionLost(f"subscriber connection to {self.address} lost: "
                               f"{exc or 'closed by the server'}", sent=True)
        for futures in self._pending.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self._pending.clear()
        self._unconfirmed.clear()
        while self._handshake:
            future = self._handshake.popleft()
            if not future.done():
                future.set_exception(error)
        if self.on_lost is not None:
            self.on_lost()

    def close(self) -> None:
        self.on_lost = None
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            with contextlib.suppress(RuntimeError):  # its loop may be closed already
                protocol.transport.close()
        self._lost = True
