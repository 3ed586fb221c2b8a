"""A lean, pipelined asyncio connection to one Redis server.

redis-py spends ~60 us of Python per command (connection pool, retries, observability
hooks); on a 2-core machine that, not Redis, caps a worker. This connection writes
commands packed by hiredis and matches replies to callers in order, so any number of
coroutines share it and their commands are pipelined for free: no pool to exhaust.
A blocking command (BZPOPMIN...) gets a connection of its own (``Store.dedicated``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import time
from typing import Any, cast

import hiredis
from redis.exceptions import AuthenticationError, BusyLoadingError, NoScriptError, ResponseError

from aqueue.store.errors import ConnectionLost, ReplyTimeout, is_protocol_error
from aqueue.store.urls import Address, ServerConfig, TLSOptions

Command = tuple[Any, ...]


class _Protocol(asyncio.Protocol):
    def __init__(self, reply_timeout: float) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.reply_timeout = reply_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] = []

    def send(self, data: bytes, busy: bool) -> None:
        """Write ``data``. On an idle connection (``busy``: other replies outstanding) it
        goes out at once; while others are in flight, what the coroutines of one event-loop
        pass send is gathered into one write at the end of the pass: one system call, not
        one per command, when 10,000 waiters woken at once each send a command, and no
        extra loop pass for a lone command."""
        if not (busy or self._unsent):
            assert self.transport is not None
            self.transport.write(data)
            return
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._flush)
        self._unsent.append(data)

    def _flush(self) -> None:
        data = b"".join(self._unsent) if len(self._unsent) > 1 else self._unsent[0]
        self._unsent.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._timer = asyncio.get_running_loop().call_later(1.0, self._check_stalled)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future, _ = self.waiting.popleft()
            if isinstance(reply, ResponseError):
                reply = specific(reply)
                if is_protocol_error(reply):
                    self._lose(ConnectionLost(f"Redis closed the connection: {reply}",
                                              sent=True))
            if not future.done():
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(self.lost or ConnectionLost(
            f"connection to Redis lost: {exc or 'closed by the server'}", sent=True))

    def _lose(self, error: Exception) -> None:
        if self.lost is None:
            self.lost = error
        if self._timer is not None:
            self._timer.cancel()
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _check_stalled(self) -> None:
        if self.waiting and time.monotonic() > self.waiting[0][1]:
            self._lose(ReplyTimeout(f"no reply from Redis for {self.reply_timeout:g} s"))
            return
        self._timer = asyncio.get_running_loop().call_later(1.0, self._check_stalled)


def specific(error: ResponseError) -> Exception:
    """redis-py's classes for the replies callers handle by class."""
    text = str(error)
    if text.startswith("NOSCRIPT"):
        return NoScriptError(text)
    if text.startswith("LOADING"):  # a ConnectionError in redis-py: wait, then retry
        return BusyLoadingError(text)
    return error


def tls_context(options: TLSOptions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.ca_certs)
    context.check_hostname = options.check_hostname and options.cert_reqs != "none"
    context.verify_mode = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL,
                           "none": ssl.CERT_NONE}[options.cert_reqs]
    if options.certfile:
        context.load_cert_chain(options.certfile, options.keyfile)
    return context


def cannot_connect(where: str, exc: BaseException, tls: TLSOptions | None) -> ConnectionLost:
    """The error for a connection that could not be opened, saying what to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = tls.ca_certs if tls and tls.ca_certs else "the system's CA store"
        return ConnectionLost(
            f"cannot connect to Redis at {where}: TLS certificate verification failed "
            f"({exc.verify_message}); the server's certificate must be signed by a CA in "
            f"ssl_ca_certs ({ca}) and name the host you connect to (ssl_check_hostname)",
            sent=False)
    reason = exc if str(exc) else "timed out"
    return ConnectionLost(f"cannot connect to Redis at {where}: {reason}", sent=False)


def handshake(config: ServerConfig, *, db: int, name: str | None) -> list[Command]:
    """The commands every new connection sends first."""
    commands: list[Command] = []
    if config.password:
        commands.append(("AUTH", config.username, config.password) if config.username
                        else ("AUTH", config.password))
    if db:
        commands.append(("SELECT", db))
    if name:
        commands.append(("CLIENT", "SETNAME", name))
    return commands


def check_handshake(where: str, commands: list[Command], replies: list[Any]) -> None:
    for command, reply in zip(commands, replies, strict=True):
        if not isinstance(reply, ResponseError):
            continue
        if command[0] == "AUTH":
            raise AuthenticationError(f"Redis at {where} refused the credentials: {reply}")
        if command[0] == "SELECT":
            raise ResponseError(f"Redis at {where} refused database {command[1]}: {reply}")
        # CLIENT SETNAME is a courtesy for operators; an ACL may forbid it.


class RespConnection:
    """One pipelined connection, opened on first use and again after it is lost."""

    def __init__(self, config: ServerConfig, address: Address, *, db: int | None = None,
                 name: str | None = None, auth: bool = True) -> None:
        self.config = config
        self.address = address
        self.db = config.db if db is None else db
        self.name = name
        self.auth = auth
        self.reply_timeout = config.socket_timeout
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None

    @property
    def where(self) -> str:
        return str(self.address)

    async def call(self, *args: Any, timeout: float | None = None) -> Any:
        """Send one command; return its reply, raise its error reply as ResponseError.
        ``timeout``: how long the reply may take beyond the usual (for blocking commands)."""
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        # _ready()'s checks inline: one coroutine less per command
        if (protocol is None or protocol.lost is not None or protocol.transport is None
                or protocol.transport.is_closing() or self._loop is not loop):
            protocol = await self._connect()
        future: asyncio.Future[Any] = loop.create_future()
        busy = bool(protocol.waiting)
        protocol.waiting.append(
            (future, time.monotonic() + self.reply_timeout + (timeout or 0.0)))
        protocol.send(hiredis.pack_command(args), busy)
        return await future

    async def call_many(self, commands: list[Command]) -> list[Any]:
        """Send commands back to back in one write (nothing can come between them); return
        their replies in order, error replies as ``ResponseError`` values, not raised."""
        protocol = await self._ready()
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.reply_timeout
        busy = bool(protocol.waiting)
        futures = []
        for _ in commands:
            future: asyncio.Future[Any] = loop.create_future()
            protocol.waiting.append((future, deadline))
            futures.append(future)
        protocol.send(b"".join(hiredis.pack_command(c) for c in commands), busy)
        # Replies come in order, so once the last one is in, all are: await it alone
        # (gather would add a callback per command and a future of its own).
        try:
            await futures[-1]
        except ResponseError:
            pass
        except BaseException:
            refused = None
            for future in futures[:-1]:
                if future.done() and not future.cancelled():
                    error = future.exception()  # retrieved: no "never retrieved" warnings
                    if refused is None and is_protocol_error(error):
                        refused = error
            if refused is not None:  # Redis refused the request and ran nothing after it
                raise refused from None
            raise
        replies: list[Any] = []
        for future in futures:
            error = future.exception()
            if error is not None and not isinstance(error, ResponseError):
                raise error
            replies.append(future.result() if error is None else error)
        return replies

    async def _ready(self) -> _Protocol:
        protocol = self._protocol
        if (protocol is None or protocol.lost is not None or protocol.transport is None
                or protocol.transport.is_closing() or self._loop is not asyncio.get_running_loop()):
            protocol = await self._connect()
        return protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._connecting is None or loop is not self._loop:
            self._connecting = asyncio.Lock()  # a lock belongs to one event loop
            self._protocol = None
            self._loop = loop
        async with self._connecting:
            current = self._protocol
            if (current is not None and current.lost is None and current.transport is not None
                    and not current.transport.is_closing()):
                return current
            protocol = await self._open(loop)
            commands = handshake(self.config, db=self.db, name=self.name) if self.auth else []
            if commands:
                self._protocol = protocol
                try:
                    replies = await self.call_many(commands)
                except ConnectionLost as exc:  # nothing of the caller's was sent yet
                    self._protocol = None
                    protocol._lose(ConnectionLost("handshake failed", sent=False))
                    raise ConnectionLost(f"cannot connect to Redis at {self.where}: the "
                                         f"connection closed during the handshake ({exc})",
                                         sent=False) from None
                except BaseException:
                    self._protocol = None
                    protocol._lose(ConnectionLost("handshake failed", sent=False))
                    raise
                try:
                    check_handshake(self.where, commands, replies)
                except BaseException:
                    self._protocol = None
                    protocol._lose(ConnectionLost("handshake refused", sent=False))
                    raise
            self._protocol = protocol
            return protocol

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        tls = tls_context(self.config.tls) if self.config.tls else None
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                if self.address.is_unix:
                    _, protocol = await loop.create_unix_connection(
                        lambda: _Protocol(self.reply_timeout), self.address.host)
                else:
                    _, protocol = await loop.create_connection(
                        lambda: _Protocol(self.reply_timeout), self.address.host,
                        self.address.port, ssl=tls,
                        server_hostname=self.address.host if tls else None)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise cannot_connect(self.where, exc, self.config.tls) from None
        return protocol

    def is_open(self) -> bool:
        protocol = self._protocol
        return (protocol is not None and protocol.lost is None and protocol.transport is not None
                and not protocol.transport.is_closing())

    async def close(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Close without waiting (also from outside the loop that opened it)."""
        protocol, self._protocol = self._protocol, None
        if protocol is None or protocol.transport is None:
            return
        with contextlib.suppress(RuntimeError):  # its loop is closed: the socket went with it
            protocol.transport.close()

