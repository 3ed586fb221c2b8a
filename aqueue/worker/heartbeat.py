"""The worker's heartbeat: lease renewal and the worker's entry in the registry."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aqueue.events import Event, EventBus
from aqueue.log_text import clip
from aqueue.store import keys
from aqueue.store.errors import TRANSIENT_ERRORS
from aqueue.store.store import Store
from aqueue.worker.backoff import Backoff
from aqueue.worker.groups import QueueGroup
from aqueue.worker.supervisor import supervised_by

if TYPE_CHECKING:
    from aqueue.worker.executor import Claimed

logger = logging.getLogger("aqueue.worker")


@dataclass(slots=True)
class WorkerStats:
    """Counters kept in memory and written with each heartbeat."""

    processed: int = 0
    failed: int = 0
    retried: int = 0
    rejected: int = 0
    started_at: float = field(default_factory=time.time)


class Heartbeat:
    """Every ``lease / 3`` seconds: extend the lease of every job this worker still holds,
    in one script call per queue group that checks each claim token, and refresh this
    worker's entry in the registry (it expires if the worker dies). Both use Redis's clock."""

    def __init__(
        self, store: Store, *, name: str, groups: Sequence[QueueGroup], lease: float,
        concurrency: int, stats: WorkerStats, inflight: Callable[[], list[Claimed]],
        running: Callable[[], int], extra: Callable[[], dict[str, Any]] | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.groups = list(groups)
        self.lease = lease
        self.concurrency = concurrency
        self.stats = stats
        self.inflight = inflight
        self.running = running
        self.extra = extra
        self.events = events or EventBus()
        self.interval = lease / 3
        self.lost: set[str] = set()
        self.instance = uuid.uuid4().hex[:12]
        self._warned_shared = False
        self._static = {
            "name": name, "host": socket.gethostname(), "pid": os.getpid(),
            "queues": ",".join(q.name for g in self.groups for q in g.queues),
            "concurrency": concurrency, "lease": lease,
            "started_at": repr(stats.started_at),
        }
        if supervised_by():
            self._static["supervisor"] = supervised_by()

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.renew_leases()
                await self.register()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(min(backoff.log(logger, "heartbeat", exc), self.interval))

    async def renew_leases(self) -> None:
        jobs = self.inflight()
        self.lost.intersection_update(job.token for job in jobs)  # warned once per claim
        by_group: dict[QueueGroup, list[Claimed]] = {}
        for job in jobs:
            by_group.setdefault(job.group, []).append(job)
        await asyncio.gather(*(self._renew(group, held) for group, held in by_group.items()))

    async def _renew(self, group: QueueGroup, jobs: list[Claimed]) -> None:
        argv: list[Any] = [self.lease]
        for job in jobs:
            argv += [job.position, job.id, job.token]
        lost, gone = await self.store.script("renew", group.keys, argv, retry_sent=True)
        by_token = {job.token: job for job in jobs}
        for raw, what in [(t, "lost") for t in lost] + [(t, "gone") for t in gone]:
            token = raw.decode()
            if token in self.lost or token not in by_token:
                continue
            self.lost.add(token)
            job_id = clip(by_token[token].id)
            if what == "gone":
                logger.error("job %s no longer exists in Redis (was Redis restarted without "
                             "persistence, or flushed?); its outcome will be dropped", job_id)
            else:
                if self.events:
                    job = by_token[token]
                    self.events.emit(Event("lease.lost", self.name, job.queue_name, job.id,
                                           job.func, job.attempt))
                logger.warning("job %s: lease lost (this worker was stalled or cut off for "
                               "longer than the lease); another worker may run it too, and "
                               "this run's outcome will be discarded", job_id)

    async def register(self) -> None:
        ttl = max(1, int(self.lease * 2))
        fields: dict[str, Any] = {**self._static, "in_flight": self.running(),
                                  "processed": self.stats.processed, "failed": self.stats.failed,
                                  "retried": self.stats.retried, "rejected": self.stats.rejected}
        if self.extra is not None:
            fields.update(self.extra())
        argv: list[Any] = [self.name, ttl, self.instance]
        for name, value in fields.items():
            argv += [name, value]
        worker_key = keys.worker_key(self.name)
        _, sharing = await self.store.script(
            "register", [keys.WORKERS, worker_key, f"{worker_key}:instances"], argv,
            retry_sent=True)
        if sharing > 1 and not self._warned_shared:
            self._warned_shared = True
            logger.warning("%d live worker processes use the name %s: give each its own "
                           "--name, or `aqueue info` will show only one of them", sharing,
                           clip(self.name))

    async def unregister(self) -> None:
        worker_key = keys.worker_key(self.name)
        await self.store.call("ZREM", f"{worker_key}:instances", self.instance, key=keys.WORKERS)
        await self.store.call("DEL", worker_key, key=keys.WORKERS)
        await self.store.call("ZREM", keys.WORKERS, self.name, key=keys.WORKERS)
