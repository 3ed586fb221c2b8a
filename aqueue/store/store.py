"""``Store``: aqueue's one way to talk to Redis, on one server, behind Sentinel, or on a
cluster. Every component (producers, the worker's fetcher, acker, plugins, the CLI and
the dashboard) sends its commands through a ``Store``.

A command names the key that routes it; the store picks the connection (one pipelined
connection per server), follows MOVED and ASK, finds the primary again after a failover,
and retries what is safe to retry: a command that never reached Redis, a redirect, a
"try again" (TRYAGAIN, CLUSTERDOWN, a demoted primary). A command that may have run is
retried only when the caller says it is idempotent (``retry_sent=True``).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from aqueue.store import transaction
from aqueue.store.clients import config_from_client
from aqueue.store.durable import NotReplicated, check_replicated, first_reply, wait_command
from aqueue.store.errors import (
    ConnectionLost,
    Redirect,
    ask_again_later,
    explain_script_error,
    is_not_primary,
    redirect_of,
)
from aqueue.store.resp import Command, RespConnection
from aqueue.store.routing import ClusterRouter, Router, SentinelRouter, StandaloneRouter
from aqueue.store.scripts import script_sha, script_source
from aqueue.store.urls import Address, ServerConfig, default_url, parse_url


class Store:
    """Connections to the Redis server(s) of one ``ServerConfig``."""

    def __init__(self, config: ServerConfig, *, name: str | None = None) -> None:
        self.config = config
        self.name = name
        self._connections: dict[Address, RespConnection] = {}
        self._dedicated: set[Dedicated] = set()
        self.router: Router = self._router(config)
        self.closed = False

    @classmethod
    def open(cls, url: str | None = None, connection: Any = None, *,
             name: str | None = None) -> Store:
        """From a URL (default ``$AQUEUE_URL`` or a local Redis) or a redis-py client."""
        if connection is not None:
            if url is not None:
                raise ValueError("give url= or connection=, not both")
            return cls(config_from_client(connection), name=name)
        return cls(parse_url(url or default_url()), name=name)

    def _router(self, config: ServerConfig) -> Router:
        if config.mode == "sentinel":
            return SentinelRouter(config, self.connection)
        if config.mode == "cluster":
            return ClusterRouter(config, self.connection)
        return StandaloneRouter(config)

    @property
    def mode(self) -> str:
        return self.router.mode

    def describe(self) -> str:
        return self.config.describe()

    def connection(self, address: Address) -> RespConnection:
        """The shared pipelined connection to one server."""
        connection = self._connections.get(address)
        if connection is None:
            connection = self._connections[address] = RespConnection(
                self.config, address, name=self.name)
        return connection

    async def call(self, *command: Any, key: str | bytes | None = None,
                   retry_sent: bool = False) -> Any:
        """Run one command on the server that holds ``key`` (any server if None)."""
        return await self._send(key, command, retry_sent=retry_sent)

    async def script(self, name: str, keys: list[str], args: list[Any], *,
                     retry_sent: bool = False, before: tuple[Command, ...] = ()) -> Any:
        """Run ``scripts/<name>.lua`` by SHA on the server of ``keys[0]``; loaded there first
        if that server does not know it (a new node, a restart, SCRIPT FLUSH). ``before``:
        commands for the same slot, run first in one MULTI with the script; they must be
        safe to run twice (they are sent again when the script had to be loaded)."""
        command = ("EVALSHA", script_sha(name), len(keys), *keys, *args)
        source = script_source(name)
        then = wait_command(self.config, name)
        for attempt in range(self._connect_attempts() if retry_sent else 1):
            try:
                if before:
                    reply = await self._transaction(keys[0], [*before, command], source, then)
                else:
                    reply = await self._send(keys[0], command, retry_sent=retry_sent,
                                             source=source, then=then)
            except ResponseError as exc:
                raise explain_script_error(name, source, exc) from None
            if then is None:
                return reply
            try:
                check_replicated(self.config, name, reply[1])
                return reply[0]
            except NotReplicated:  # the primary may be on its way out: ask again
                self.router.not_primary(await self.router.address_for(keys[0]))
                if attempt + 1 >= (self._connect_attempts() if retry_sent else 1):
                    raise
                await _pause(attempt + 1)
        raise AssertionError("unreachable")

    async def _transaction(self, key: str | bytes, commands: list[Command], source: str,
                           then: Command | None = None) -> Any:
        """The commands in one MULTI/EXEC; ``then`` (a WAIT) right behind it: the reply is
        then the pair (the last command's reply, the reply of ``then``)."""
        block = transaction.wrap(commands) + ([then] if then is not None else [])
        for attempt in range(1, transaction.MAX_ATTEMPTS + 1):
            address = await self.router.address_for(key)
            connection = self.connection(address)
            try:
                replies = await connection.call_many(block)
                if then is None:
                    return transaction.result(replies)
                return transaction.result(replies[:-1]), replies[-1]
            except NoScriptError:
                await connection.call("SCRIPT", "LOAD", source)
            except ResponseError as exc:
                redirect = redirect_of(exc)
                if redirect is not None:
                    self._learn(address, redirect)
                    if redirect.ask:  # the slot is migrating: wait for it to land (then MOVED)
                        await _pause(attempt)
                elif ask_again_later(exc, self.mode):
                    self.router.not_primary(address)
                    await _pause(attempt)
                else:
                    raise
            except ConnectionLost as exc:
                self.router.lost(address)
                if exc.sent or attempt >= self._connect_attempts():
                    raise
                if attempt > 1:
                    await _pause(attempt)
        raise ConnectionLost(f"too many redirects for {commands[-1][0]}", sent=False)

    async def call_many(self, commands: list[Command], *, key: str | bytes | None = None
                        ) -> list[Any]:
        """Commands for one slot, sent in one write; replies in order (error replies are
        returned as ``ResponseError`` values). Only for commands safe to send again."""
        for attempt in range(6):
            address = await self.router.address_for(key)
            try:
                replies = await self.connection(address).call_many(commands)
            except ConnectionLost:
                self.router.lost(address)
                if attempt >= self._connect_attempts() - 1:
                    raise
                await _pause(attempt)
                continue
            redirect = next((r for r in map(redirect_of, replies) if r is not None), None)
            if redirect is None:
                return replies
            self._learn(address, redirect)
            if redirect.ask:
                asked = [c for command in commands for c in (("ASKING",), command)]
                return (await self.connection(redirect.address).call_many(asked))[1::2]
        raise ConnectionLost(f"too many redirects for {commands[0][0]}", sent=False)

    async def _send(self, key: str | bytes | None, command: Command, *, retry_sent: bool,
                    source: str | None = None, then: Command | None = None) -> Any:
        """``then``: a command sent right behind ``command`` on the same connection (WAIT);
        the reply is then the pair of replies."""
        extra = [then] if then is not None else []
        ask: Address | None = None
        attempt = 0
        while True:
            address = ask or await self.router.address_for(key)
            connection = self.connection(address)
            try:
                if ask is not None:
                    ask = None
                    return first_reply(
                        (await connection.call_many([("ASKING",), command, *extra]))[1:], then)
                if then is not None:
                    return first_reply(await connection.call_many([command, then]), then)
                return await connection.call(*command)
            except NoScriptError:
                if source is None:
                    raise
                replies = await connection.call_many([("SCRIPT", "LOAD", source), command,
                                                      *extra])
                try:
                    return first_reply(replies[1:], then)
                except ResponseError as exc:
                    raise exc from None
            except ResponseError as exc:
                attempt += 1
                redirect = redirect_of(exc)
                if attempt >= 8:
                    raise
                if redirect is not None:
                    self._learn(address, redirect)
                    ask = redirect.address if redirect.ask else None
                    continue
                if ask_again_later(exc, self.mode):
                    self.router.not_primary(address)
                    await _pause(attempt)
                    continue
                raise
            except ConnectionLost as exc:
                self.router.lost(address)
                attempt += 1
                if (exc.sent and not retry_sent) or attempt >= self._connect_attempts():
                    raise
                if attempt > 1:
                    await _pause(attempt)

    def _connect_attempts(self) -> int:
        # One server: one retry (a connection the server closed while idle). Sentinel and
        # cluster: a few, spread over about two seconds, to ride out a failover.
        return 2 if self.mode == "standalone" else 7

    def learn(self, address: Address, redirect: Redirect) -> None:
        """Follow a MOVED or ASK that ``address`` answered to a command sent outside the
        store (a subscription, say)."""
        self._learn(address, redirect)

    def _learn(self, address: Address, redirect: Any) -> None:
        if self.mode == "standalone":  # a redis:// URL that points at a cluster node
            self.config = self.config.as_cluster(address)
            self.router = self._router(self.config)
        self.router.redirected(redirect)

    async def primaries(self) -> list[Address]:
        """Every primary (one, unless this is a cluster): for SCAN and INFO."""
        return await self.router.primaries()

    def dedicated(self, key: str | bytes | None, *, name: str | None = None) -> Dedicated:
        """A connection of its own for blocking commands on the server of ``key``."""
        dedicated = Dedicated(self, key, name or self.name)
        self._dedicated.add(dedicated)
        return dedicated

    async def close(self) -> None:
        self.closed = True
        self.router.close()
        for dedicated in list(self._dedicated):
            dedicated.close()
        self._dedicated.clear()
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.abandon()


class Dedicated:
    """One connection for blocking commands (BZPOPMIN...), following its key's server."""

    def __init__(self, store: Store, key: str | bytes | None, name: str | None) -> None:
        self.store = store
        self.key = key
        self.name = name
        self._connection: RespConnection | None = None

    async def call(self, *command: Any, timeout: float = 0.0) -> Any:
        """``timeout``: how long the command may block (added to the reply timeout)."""
        for attempt in range(6):
            address = await self.store.router.address_for(self.key)
            if self._connection is None or self._connection.address != address:
                if self._connection is not None:
                    self._connection.abandon()
                self._connection = RespConnection(self.store.config, address, name=self.name)
            try:
                return await self._connection.call(*command, timeout=timeout)
            except ResponseError as exc:
                redirect = redirect_of(exc)
                if redirect is None:
                    if is_not_primary(exc):
                        self.store.router.not_primary(address)
                    raise
                self.store._learn(address, redirect)
                if redirect.ask:  # the slot is migrating: wait for it to land (then MOVED)
                    await _pause(attempt)
            except ConnectionLost as exc:
                self.store.router.lost(address)
                if exc.sent:
                    raise
                await _pause(attempt)
        raise ConnectionLost(f"cannot reach the server for {self.key!r}", sent=False)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.abandon()
            self._connection = None
        self.store._dedicated.discard(self)


async def _pause(attempt: int) -> None:
    await asyncio.sleep(min(0.5, 0.025 * 2 ** attempt) * random.uniform(0.5, 1.0))
