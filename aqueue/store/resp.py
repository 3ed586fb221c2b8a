"""A lean, pipelined Redis connection for the hot path (scripts run by SHA).

redis-py spends ~60 us of Python per command (connection pool, retries, observability
hooks); on a 2-core machine that, not Redis, caps a worker. This connection writes
commands packed by hiredis and matches replies to callers in order, so any number of
coroutines share it, and their commands are pipelined for free. Blocking commands
(BLPOP...) and everything off the hot path stay on redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT = 5.0


class _Protocol(asyncio.Protocol):
    def __init__(self, reply_timeout: float) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.reply_timeout = reply_timeout
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._timer = asyncio.get_running_loop().call_later(1.0, self._check_stalled)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future, _ = self.waiting.popleft()
            if not future.done():
                if isinstance(reply, ResponseError):
                    future.set_exception(_specific(reply))
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed by server'}")
        if self._timer is not None:
            self._timer.cancel()
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def _check_stalled(self) -> None:
        if self.waiting and time.monotonic() - self.waiting[0][1] > self.reply_timeout:
            self.lost = RedisTimeoutError(f"no reply from Redis for {self.reply_timeout:g} s")
            if self.transport is not None:
                self.transport.abort()
            return
        self._timer = asyncio.get_running_loop().call_later(1.0, self._check_stalled)


def _specific(error: ResponseError) -> ResponseError:
    if str(error).startswith("NOSCRIPT"):
        return NoScriptError(str(error))
    return error


class RespConnection:
    """One pipelined connection, opened on first use and again after it is lost."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None,
                 db: int = 0, username: str | None = None, password: str | None = None,
                 reply_timeout: float = 30.0) -> None:
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password = username, password
        self.reply_timeout = reply_timeout
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None

    @classmethod
    def like(cls, redis: Redis) -> RespConnection | None:
        """A connection to the same server as a redis-py client, or None for set-ups this
        class does not speak (TLS, RESP3, credential providers)."""
        kwargs = redis.connection_pool.connection_kwargs
        connection_class = redis.connection_pool.connection_class.__name__
        if "SSL" in connection_class or kwargs.get("protocol") not in (None, 2, "2") or kwargs.get(
                "credential_provider") is not None:
            return None
        return cls(host=kwargs.get("host", "127.0.0.1"), port=int(kwargs.get("port", 6379)),
                   path=kwargs.get("path"), db=int(kwargs.get("db", 0) or 0),
                   username=kwargs.get("username"), password=kwargs.get("password"),
                   reply_timeout=float(kwargs.get("socket_timeout") or 30.0))

    async def call(self, *args: Any) -> Any:
        """Send one command; return its reply, raise its error reply as ResponseError."""
        protocol = self._protocol
        loop = asyncio.get_running_loop()
        if (protocol is None or protocol.lost is not None or protocol.transport is None
                or loop is not self._loop):
            protocol = await self._connect()
        future: asyncio.Future[Any] = loop.create_future()
        protocol.waiting.append((future, time.monotonic()))
        assert protocol.transport is not None
        protocol.transport.write(hiredis.pack_command(args))
        return await future

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._connecting is None or loop is not self._loop:
            self._connecting = asyncio.Lock()  # a lock belongs to one event loop
            self._protocol = None
        async with self._connecting:
            current = self._protocol
            if current is not None and current.lost is None and current.transport is not None:
                return current
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    if self.path:
                        _, protocol = await loop.create_unix_connection(
                            lambda: _Protocol(self.reply_timeout), self.path)
                    else:
                        _, protocol = await loop.create_connection(
                            lambda: _Protocol(self.reply_timeout), self.host, self.port)
            except (OSError, TimeoutError) as exc:
                where = self.path or f"{self.host}:{self.port}"
                raise RedisConnectionError(f"cannot connect to Redis at {where}: {exc}") from None
            self._protocol = protocol
            self._loop = loop
            if self.password:
                auth = (self.username, self.password) if self.username else (self.password,)
                await self.call("AUTH", *auth)
            if self.db:
                await self.call("SELECT", self.db)
            return protocol

    async def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
