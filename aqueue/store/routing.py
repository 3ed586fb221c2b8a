"""Which server a command goes to: the one server, the primary Sentinel names, or the
cluster node that serves the key's slot.

A router only answers "where" and learns from errors (MOVED, READONLY, a lost
connection); the ``Store`` sends the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from redis.exceptions import RedisError, ResponseError

from aqueue.store.errors import ConnectionLost, Redirect
from aqueue.store.pubsub import Subscriber
from aqueue.store.resp import RespConnection
from aqueue.store.slots import SlotMap, key_slot
from aqueue.store.urls import Address, ServerConfig

logger = logging.getLogger("aqueue.store")
Opener = Callable[[Address], RespConnection]


class Router(Protocol):
    mode: str

    async def address_for(self, key: str | bytes | None) -> Address: ...

    async def primaries(self) -> list[Address]: ...

    def redirected(self, redirect: Redirect) -> None: ...

    def not_primary(self, address: Address) -> None: ...

    def lost(self, address: Address) -> None: ...

    def close(self) -> None: ...


class StandaloneRouter:
    mode = "standalone"

    def __init__(self, config: ServerConfig) -> None:
        self.address = config.addresses[0]

    async def address_for(self, key: str | bytes | None) -> Address:
        return self.address

    async def primaries(self) -> list[Address]:
        return [self.address]

    def redirected(self, redirect: Redirect) -> None:
        pass  # the Store turns itself into a cluster store on the first MOVED

    def not_primary(self, address: Address) -> None:
        pass

    def lost(self, address: Address) -> None:
        pass

    def close(self) -> None:
        pass


class SentinelRouter:
    """The primary of ``service_name`` as the sentinels name it (and confirmed by ROLE);
    named again after a failover is announced, or when a server says it is not (or no
    longer) the primary."""

    mode = "sentinel"

    def __init__(self, config: ServerConfig, opener: Opener) -> None:
        self.config = config
        self.opener = opener
        self.primary: Address | None = None
        self._resolving: asyncio.Future[Address] | None = None
        self._sentinels = {a: RespConnection(self._sentinel_config(), a, db=0)
                           for a in config.addresses}
        self._watch: asyncio.Task[None] | None = None

    def _sentinel_config(self) -> ServerConfig:
        from dataclasses import replace
        return replace(self.config, mode="standalone", username=self.config.sentinel_username,
                       password=self.config.sentinel_password, db=0, tls=self.config.tls)

    async def address_for(self, key: str | bytes | None) -> Address:
        if self.primary is not None:
            return self.primary
        if self._resolving is None or self._resolving.get_loop() is not asyncio.get_running_loop():
            self._resolving = asyncio.ensure_future(self._resolve())
            self._start_watch()
        try:
            return await asyncio.shield(self._resolving)
        finally:
            if self._resolving is not None and self._resolving.done():
                self._resolving = None

    async def primaries(self) -> list[Address]:
        return [await self.address_for(None)]

    async def _resolve(self) -> Address:
        problems = []
        for address, sentinel in self._sentinels.items():
            try:
                reply = await sentinel.call("SENTINEL", "get-master-addr-by-name",
                                            self.config.service_name)
            except (RedisError, OSError) as exc:
                problems.append(f"sentinel {address}: {exc}")
                continue
            if not reply:
                problems.append(f"sentinel {address} does not know service "
                                f"{self.config.service_name!r}")
                continue
            primary = Address(reply[0].decode(), int(reply[1]))
            try:
                role = await self.opener(primary).call("ROLE")
            except (RedisError, OSError) as exc:
                problems.append(f"sentinel {address} names {primary}, which fails: {exc}")
                continue
            if role[0] != b"master":
                problems.append(f"sentinel {address} names {primary}, which is a "
                                f"{role[0].decode()} (failover in progress?)")
                continue
            if self.primary != primary:
                logger.info("Sentinel service %r: primary is %s", self.config.service_name,
                            primary)
            self.primary = primary
            return primary
        raise ConnectionLost(f"no Sentinel could name a primary for service "
                             f"{self.config.service_name!r}: " + "; ".join(problems), sent=False)

    def _start_watch(self) -> None:
        loop = asyncio.get_running_loop()
        if self._watch is None or self._watch.done() or self._watch.get_loop() is not loop:
            self._watch = loop.create_task(self._watch_switches(), name="aqueue-sentinel-watch")

    async def _watch_switches(self) -> None:
        """Follow ``+switch-master`` announcements, so that every connection moves to the
        new primary at once instead of writing to a demoted one until it refuses."""
        service = (self.config.service_name or "").encode()
        lost = asyncio.Event()

        def on_message(channel: bytes, payload: bytes) -> None:
            parts = payload.split()
            if len(parts) == 5 and parts[0] == service:
                new = Address(parts[3].decode(), int(parts[4]))
                if new != self.primary:
                    logger.warning("Sentinel: primary of %r switched from %s to %s",
                                   self.config.service_name, self.primary, new)
                    self.primary = None

        while True:
            for address in list(self._sentinels):
                subscriber = Subscriber(self._sentinel_config(), address, on_message,
                                        sharded=False, on_lost=lost.set)
                try:
                    await subscriber.connect()
                    await subscriber.subscribe([b"+switch-master"])
                    lost.clear()
                    await lost.wait()
                except (RedisError, OSError):
                    pass
                finally:
                    subscriber.close()
            await asyncio.sleep(1.0)

    def redirected(self, redirect: Redirect) -> None:
        pass

    def not_primary(self, address: Address) -> None:
        if self.primary == address:
            self.primary = None

    def lost(self, address: Address) -> None:
        if self.primary == address:
            self.primary = None

    def close(self) -> None:
        if self._watch is not None:
            with contextlib.suppress(RuntimeError):
                self._watch.cancel()
            self._watch = None
        for sentinel in self._sentinels.values():
            sentinel.abandon()


class ClusterRouter:
    """The slot map, read with CLUSTER SLOTS, corrected by MOVED replies and read again
    (in the background, once at a time) after a redirect or a lost node."""

    mode = "cluster"

    def __init__(self, config: ServerConfig, opener: Opener) -> None:
        self.seeds = list(config.addresses)
        self.opener = opener
        self.slot_map: SlotMap | None = None
        self._refreshing: asyncio.Future[SlotMap] | None = None

    async def address_for(self, key: str | bytes | None) -> Address:
        slot_map = self.slot_map or await self.refresh()
        if key is None:
            return slot_map.primaries()[0]
        address = slot_map.primary_for(key_slot(key))
        if address is None:
            address = (await self.refresh()).primary_for(key_slot(key))
        if address is None:
            raise ResponseError(f"CLUSTERDOWN no node serves slot {key_slot(key)}")
        return address

    async def primaries(self) -> list[Address]:
        return (await self.refresh()).primaries()

    async def refresh(self) -> SlotMap:
        loop = asyncio.get_running_loop()
        if self._refreshing is None or self._refreshing.get_loop() is not loop:
            self._refreshing = asyncio.ensure_future(self._load())
        try:
            return await asyncio.shield(self._refreshing)
        finally:
            if self._refreshing is not None and self._refreshing.done():
                self._refreshing = None

    async def _load(self) -> SlotMap:
        candidates = list(dict.fromkeys(
            [*(self.slot_map.primaries() if self.slot_map else []), *self.seeds]))
        problems = []
        for address in candidates:
            try:
                reply = await self.opener(address).call("CLUSTER", "SLOTS")
                self.slot_map = SlotMap.from_reply(reply, address)
                return self.slot_map
            except (RedisError, OSError, ValueError) as exc:
                problems.append(f"{address}: {exc}")
        raise ConnectionLost("no cluster node answered CLUSTER SLOTS: " + "; ".join(problems),
                             sent=False)

    def _refresh_soon(self) -> None:
        with contextlib.suppress(RuntimeError):
            if self._refreshing is None:
                self._refreshing = asyncio.ensure_future(self._load())
                self._refreshing.add_done_callback(self._refreshed)

    def _refreshed(self, future: asyncio.Future[SlotMap]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: a failed background refresh is retried on demand
        self._refreshing = None

    def redirected(self, redirect: Redirect) -> None:
        if not redirect.ask:
            if self.slot_map is not None:
                self.slot_map.moved(redirect.slot, redirect.address)
            self._refresh_soon()

    def not_primary(self, address: Address) -> None:
        self._refresh_soon()  # a failover promoted a replica

    def lost(self, address: Address) -> None:
        self._refresh_soon()

    def close(self) -> None:
        pass
