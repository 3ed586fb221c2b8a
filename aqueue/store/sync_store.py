"""``SyncStore``: the blocking twin of ``Store``, for the sync ``Queue``; safe to share
across threads.

Each server gets a small pool of blocking connections; a thread borrows one per command
(a pool that stays busy for ``pool_timeout`` raises ``PoolExhausted``, saying so). Routing
follows the same rules as ``Store``: MOVED and ASK on a cluster, the Sentinel primary
named again after a failover, and only safe retries.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import Any

from redis.exceptions import NoScriptError, RedisError, ResponseError

from aqueue.errors import AqueueError
from aqueue.store import transaction
from aqueue.store.clients import config_from_client
from aqueue.store.durable import NotReplicated, check_replicated, first_reply, wait_command
from aqueue.store.errors import (
    ConnectionLost,
    ask_again_later,
    explain_script_error,
    is_not_primary,
    redirect_of,
)
from aqueue.store.resp import Command
from aqueue.store.scripts import script_sha, script_source
from aqueue.store.slots import SlotMap, key_slot
from aqueue.store.sync_resp import SyncConnection
from aqueue.store.urls import Address, ServerConfig, default_url, parse_url

DEFAULT_POOL_SIZE = 32
DEFAULT_POOL_TIMEOUT = 10.0


class PoolExhausted(AqueueError):
    """Every connection of the pool stayed busy for ``pool_timeout`` seconds."""


class _Pool:
    """Idle connections under one lock; a thread waits only when all are busy. (A
    BoundedSemaphore and a LifoQueue cost ~10 us per command in Python-level locking.)"""

    def __init__(self, config: ServerConfig, address: Address, size: int, name: str | None):
        self.config, self.address, self.name = config, address, name
        self.idle: list[SyncConnection] = []
        self.size = size
        self.busy = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._waiting = 0

    def borrow(self, timeout: float) -> _Borrowed:
        return _Borrowed(self, timeout)

    def acquire(self, timeout: float) -> SyncConnection:
        with self._lock:
            if self.busy >= self.size:
                self._waiting += 1
                try:
                    if not self._freed.wait_for(lambda: self.busy < self.size, timeout):
                        raise PoolExhausted(
                            f"all {self.size} connections to Redis at {self.address} were "
                            f"busy for {timeout:g} s; raise pool_size or pool_timeout")
                finally:
                    self._waiting -= 1
            self.busy += 1
            if self.idle:
                return self.idle.pop()
        return SyncConnection(self.config, self.address, name=self.name)

    def release(self, connection: SyncConnection) -> None:
        with self._lock:
            self.busy -= 1
            if not connection.broken:
                self.idle.append(connection)
            if self._waiting:
                self._freed.notify()

    def close(self) -> None:
        with self._lock:
            idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


class _Borrowed:
    """``with pool.borrow(timeout) as connection:`` (a class: cheaper than a generator)."""

    __slots__ = ("connection", "pool", "timeout")

    def __init__(self, pool: _Pool, timeout: float) -> None:
        self.pool, self.timeout = pool, timeout

    def __enter__(self) -> SyncConnection:
        self.connection = self.pool.acquire(self.timeout)
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.pool.release(self.connection)


class SyncStore:
    def __init__(self, config: ServerConfig, *, name: str | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE,
                 pool_timeout: float = DEFAULT_POOL_TIMEOUT) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self.config = config
        self.name = name
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self._pools: dict[Address, _Pool] = {}
        self._lock = threading.Lock()
        self._primary: Address | None = None  # Sentinel
        self._slots: SlotMap | None = None  # cluster
        self.closed = False

    @classmethod
    def open(cls, url: str | None = None, connection: Any = None, **options: Any) -> SyncStore:
        if connection is not None:
            if url is not None:
                raise ValueError("give url= or connection=, not both")
            return cls(config_from_client(connection), **options)
        return cls(parse_url(url or default_url()), **options)

    @property
    def mode(self) -> str:
        return self.config.mode

    def describe(self) -> str:
        return self.config.describe()

    def _pool(self, address: Address) -> _Pool:
        pool = self._pools.get(address)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(
                    address, _Pool(self.config, address, self.pool_size, self.name))
        return pool

    # -- routing -------------------------------------------------------------------------

    def address_for(self, key: str | bytes | None) -> Address:
        if self.mode == "sentinel":
            return self._primary or self._resolve_primary()
        if self.mode == "cluster":
            slots = self._slots or self._load_slots()
            address = slots.primaries()[0] if key is None else slots.primary_for(key_slot(key))
            if address is None:
                raise ResponseError(f"CLUSTERDOWN no node serves slot {key_slot(key or '')}")
            return address
        return self.config.addresses[0]

    def primaries(self) -> list[Address]:
        if self.mode == "cluster":
            return self._load_slots().primaries()
        return [self.address_for(None)]

    def _resolve_primary(self) -> Address:
        sentinel_config = replace(self.config, mode="standalone", db=0,
                                  username=self.config.sentinel_username,
                                  password=self.config.sentinel_password)
        problems = []
        for address in self.config.addresses:
            sentinel = SyncConnection(sentinel_config, address, db=0)
            try:
                reply = sentinel.call("SENTINEL", "get-master-addr-by-name",
                                      self.config.service_name)
                if not reply:
                    problems.append(f"sentinel {address} does not know the service")
                    continue
                primary = Address(reply[0].decode(), int(reply[1]))
                with self._pool(primary).borrow(self.pool_timeout) as connection:
                    role = connection.call("ROLE")
                if role[0] != b"master":
                    problems.append(f"sentinel {address} names {primary}, a {role[0].decode()}")
                    continue
                self._primary = primary
                return primary
            except (RedisError, OSError) as exc:
                problems.append(f"sentinel {address}: {exc}")
            finally:
                sentinel.close()
        raise ConnectionLost(f"no Sentinel could name a primary for service "
                             f"{self.config.service_name!r}: " + "; ".join(problems), sent=False)

    def _load_slots(self) -> SlotMap:
        candidates = [*(self._slots.primaries() if self._slots else []), *self.config.addresses]
        problems = []
        for address in dict.fromkeys(candidates):
            try:
                with self._pool(address).borrow(self.pool_timeout) as connection:
                    self._slots = SlotMap.from_reply(connection.call("CLUSTER", "SLOTS"), address)
                return self._slots
            except (RedisError, OSError, ValueError) as exc:
                problems.append(f"{address}: {exc}")
        raise ConnectionLost("no cluster node answered CLUSTER SLOTS: " + "; ".join(problems),
                             sent=False)

    def _learn(self, address: Address, exc: BaseException) -> Address | None:
        """Update the routes after an error; returns an ASK target to try once."""
        redirect = redirect_of(exc)
        if redirect is not None:
            if self.mode == "standalone":
                self.config = self.config.as_cluster(address)
            if redirect.ask:
                return redirect.address
            if self._slots is not None:
                self._slots.moved(redirect.slot, redirect.address)
            return None
        if self.mode == "sentinel" and (is_not_primary(exc) or isinstance(exc, ConnectionLost)):
            self._primary = None
        if self.mode == "cluster" and (is_not_primary(exc) or isinstance(exc, ConnectionLost)):
            self._slots = None
        return None

    # -- commands ------------------------------------------------------------------------

    def call(self, *command: Any, key: str | bytes | None = None,
             retry_sent: bool = False) -> Any:
        return self._send(key, command, retry_sent=retry_sent)

    def script(self, name: str, keys: list[str], args: list[Any], *,
               retry_sent: bool = False, before: tuple[Command, ...] = ()) -> Any:
        """See ``Store.script``."""
        command = ("EVALSHA", script_sha(name), len(keys), *keys, *args)
        source = script_source(name)
        then = wait_command(self.config, name)
        attempts = (2 if self.mode == "standalone" else 7) if retry_sent else 1
        for attempt in range(attempts):
            try:
                if before:
                    reply = self._transaction(keys[0], [*before, command], source, then)
                else:
                    reply = self._send(keys[0], command, retry_sent=retry_sent, source=source,
                                       then=then)
            except ResponseError as exc:
                raise explain_script_error(name, source, exc) from None
            if then is None:
                return reply
            try:
                check_replicated(self.config, name, reply[1])
                return reply[0]
            except NotReplicated as exc:  # the primary may be on its way out: ask again
                self._learn(self.address_for(keys[0]), exc)
                if attempt + 1 >= attempts:
                    raise
                _pause(attempt + 1)
        raise AssertionError("unreachable")

    def _transaction(self, key: str | bytes, commands: list[Command], source: str,
                     then: Command | None = None) -> Any:
        """See ``Store._transaction``."""
        block = transaction.wrap(commands) + ([then] if then is not None else [])
        for attempt in range(1, transaction.MAX_ATTEMPTS + 1):
            address = self.address_for(key)
            try:
                with self._pool(address).borrow(self.pool_timeout) as connection:
                    try:
                        replies = connection.call_many(block)
                        if then is None:
                            return transaction.result(replies)
                        return transaction.result(replies[:-1]), replies[-1]
                    except NoScriptError:
                        connection.call("SCRIPT", "LOAD", source)
            except NoScriptError:
                raise
            except ResponseError as exc:
                ask = self._learn(address, exc)
                if redirect_of(exc) is not None:
                    if ask is not None:  # the slot is migrating: wait for it to land
                        _pause(attempt)
                    continue
                if ask_again_later(exc, self.mode):
                    _pause(attempt)
                    continue
                raise
            except ConnectionLost as exc:
                self._learn(address, exc)
                if exc.sent or attempt >= (2 if self.mode == "standalone" else 7):
                    raise
                if attempt > 1:
                    _pause(attempt)
        raise ConnectionLost(f"too many redirects for {commands[-1][0]}", sent=False)

    def call_many(self, commands: list[Command], *, key: str | bytes | None = None) -> list[Any]:
        address = self.address_for(key)
        with self._pool(address).borrow(self.pool_timeout) as connection:
            return connection.call_many(commands)

    def _send(self, key: str | bytes | None, command: Command, *, retry_sent: bool,
              source: str | None = None, then: Command | None = None) -> Any:
        """``then``: a command sent right behind ``command`` on the same connection (WAIT);
        the reply is then the pair of replies."""
        extra = [then] if then is not None else []
        ask: Address | None = None
        attempts = 2 if self.mode == "standalone" else 7
        for attempt in range(8):
            address = ask or self.address_for(key)
            try:
                with self._pool(address).borrow(self.pool_timeout) as connection:
                    if ask is not None:
                        ask = None
                        return first_reply(
                            connection.call_many([("ASKING",), command, *extra])[1:], then)
                    try:
                        if then is not None:
                            replies = connection.call_many([command, then])
                            if str(replies[0]).startswith("NOSCRIPT"):
                                raise NoScriptError(str(replies[0]))
                            return first_reply(replies, then)
                        return connection.call(*command)
                    except NoScriptError:
                        if source is None:
                            raise
                        replies = connection.call_many([("SCRIPT", "LOAD", source), command,
                                                        *extra])
                        try:
                            return first_reply(replies[1:], then)
                        except ResponseError as exc:
                            raise exc from None
            except NoScriptError:
                raise
            except ResponseError as exc:
                ask = self._learn(address, exc)
                if redirect_of(exc) is not None:
                    continue
                if ask_again_later(exc, self.mode):
                    _pause(attempt)
                    continue
                raise
            except ConnectionLost as exc:
                self._learn(address, exc)
                if (exc.sent and not retry_sent) or attempt + 1 >= attempts:
                    raise
                if attempt:
                    _pause(attempt)
        raise ConnectionLost(f"too many redirects for {command[0]}", sent=False)

    def close(self) -> None:
        self.closed = True
        for pool in list(self._pools.values()):
            pool.close()


def _pause(attempt: int) -> None:
    time.sleep(min(0.5, 0.025 * 2 ** attempt) * random.uniform(0.5, 1.0))
