"""What one dashboard holds: its settings, the ``AsyncAdmin`` it reads through (opened on
the first request, in the server's event loop), a queue object per queue name sharing
the admin's connections, and slow readings kept for a while (queue names, memory)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from aqueue.client.admin import AsyncAdmin
from aqueue.client.async_queue import AsyncQueue
from aqueue.dashboard.bulk import BulkRunner
from aqueue.dashboard.live import LiveHub
from aqueue.dashboard.security import AuthHook, Csrf
from aqueue.dashboard.views import memory_of
from aqueue.serializers import Serializer, get_serializer

NAMES_TTL = 5.0
MEMORY_TTL = 30.0


@dataclass
class Settings:
    url: str | None = None
    read_only: bool = False
    auth: AuthHook | None = None
    queues: list[str] | None = None  # None: every queue found
    title: str = "aqueue"
    serializer: Serializer | None = None
    interval: float = 1.0  # seconds between live updates
    csrf_secret: bytes | None = None


class DashboardState:
    def __init__(self, settings: Settings, admin: AsyncAdmin | None = None) -> None:
        self.settings = settings
        self.serializer = get_serializer(settings.serializer)
        self._admin = admin
        self._owns_admin = admin is None
        self._queues: dict[str, AsyncQueue] = {}
        self._names: tuple[float, list[str]] = (0.0, [])
        self._memory: dict[str, tuple[float, dict[str, Any]]] = {}
        self._memory_lock = asyncio.Lock()
        self._servers: tuple[float, list[dict[str, Any]]] = (0.0, [])
        self.hub = LiveHub(settings.interval)
        self.bulk = BulkRunner()
        self.csrf = Csrf(settings.csrf_secret)

    @property
    def admin(self) -> AsyncAdmin:
        if self._admin is None:
            self._admin = AsyncAdmin(url=self.settings.url)
        return self._admin

    def queue(self, name: str) -> AsyncQueue:
        """The queue named ``name`` (``ValueError`` for a name that cannot be a queue's)."""
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = AsyncQueue(name, store=self.admin.store,
                                                    serializer=self.serializer)
        return queue

    async def names(self) -> list[str]:
        if self.settings.queues is not None:
            return list(self.settings.queues)
        at, names = self._names
        if time.monotonic() - at > NAMES_TTL:
            names = await self.admin.queues()
            self._names = (time.monotonic(), names)
        return names

    async def memory(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Each queue's memory, measured at most every ``MEMORY_TTL`` seconds (it samples
        job hashes: cheap, but not for every live update)."""
        async with self._memory_lock:
            now = time.monotonic()
            stale = [n for n in names if now - self._memory.get(n, (0.0, {}))[0] > MEMORY_TTL]
            for name, reading in zip(stale, await asyncio.gather(
                    *(memory_of(self.queue(n)) for n in stale)), strict=True):
                self._memory[name] = (now, reading)
            return {n: self._memory[n][1] for n in names if n in self._memory}

    async def servers(self) -> list[dict[str, Any]]:
        """The Redis primaries (``INFO``), read at most every ``MEMORY_TTL`` seconds."""
        at, servers = self._servers
        if time.monotonic() - at > MEMORY_TTL:
            servers = [asdict(s) for s in await self.admin.servers()]
            self._servers = (time.monotonic(), servers)
        return servers

    async def close(self) -> None:
        self.bulk.cancel_all()
        await self.hub.close()
        if self._owns_admin and self._admin is not None:
            await self._admin.close()
        self._admin = None
        self._queues.clear()
