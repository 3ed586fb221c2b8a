"""The worker's heartbeat: lease renewal, worker registration and an event-loop watchdog."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from aqueue.store import keys
from aqueue.store.scripts import Scripts
from aqueue.worker.backoff import TRANSIENT_ERRORS, Backoff, is_request_error
from aqueue.worker.claim_gate import WRITES_QUIET, WRITES_REFUSED, ClaimGate
from aqueue.worker.executor import Claimed
from aqueue.worker.log_text import clip

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
    in one script call that checks each claim token, and refresh this worker's entry in
    ``aq:workers`` (it expires if the worker dies) with its counters and ``gauges``. A
    registration that goes through tells the claim gate that Redis takes writes again."""

    def __init__(
        self, redis: Redis, scripts: Scripts, *, name: str, queues: Sequence[keys.QueueKeys],
        script_keys: list[str], lease: float, concurrency: int, stats: WorkerStats,
        inflight: Callable[[], list[Claimed]], running: Callable[[], int],
        gauges: Callable[[], Mapping[str, int]] = dict, gate: ClaimGate | None = None,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.name = name
        self.queues = list(queues)
        self.script_keys = script_keys
        self.lease = lease
        self.concurrency = concurrency
        self.stats = stats
        self.inflight = inflight
        self.running = running
        self.gauges = gauges
        self.gate = gate
        self.interval = lease / 3
        self.lost: set[str] = set()

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.renew_leases()
                await self.register()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                if (self.gate is not None and isinstance(exc, ResponseError)
                        and not is_request_error(exc)):  # refused for now (OOM...)
                    self.gate.close(WRITES_REFUSED, str(exc), logging.WARNING)
                await asyncio.sleep(min(backoff.log(logger, "heartbeat", exc), self.interval))

    async def renew_leases(self) -> None:
        jobs = self.inflight()
        self.lost.intersection_update(job.id for job in jobs)  # warned once per job, bounded
        if not jobs:
            return
        argv: list[Any] = [repr(time.time() + self.lease)]
        for job in jobs:
            argv += [job.queue_index, job.id, job.token]
        for raw_id in await self.scripts.run("renew", self.script_keys, argv):
            job_id = raw_id.decode()
            if job_id not in self.lost:
                self.lost.add(job_id)
                logger.warning("job %s: lease lost (this worker was stalled or cut off for "
                               "longer than the lease); another worker may run it too, and "
                               "this worker's outcome will be discarded", clip(job_id))

    async def register(self) -> None:
        now = time.time()
        ttl = max(1, int(self.lease * 2))
        worker_key = keys.worker_key(self.name)
        async with self.redis.pipeline(transaction=False) as pipe:
            fields: dict[str, str | int] = {
                "name": self.name, "host": socket.gethostname(), "pid": os.getpid(),
                "queues": ",".join(q.name for q in self.queues),
                "concurrency": self.concurrency, "in_flight": self.running(),
                "processed": self.stats.processed, "failed": self.stats.failed,
                "rejected": self.stats.rejected,
                "started_at": repr(self.stats.started_at), "heartbeat_at": repr(now),
                **self.gauges(),
            }
            pipe.hset(worker_key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(worker_key, ttl)
            pipe.zadd(keys.WORKERS, {self.name: now + ttl})
            pipe.zremrangebyscore(keys.WORKERS, "-inf", now)
            await pipe.execute()
        if self.gate is not None:
            self.gate.reopen(WRITES_REFUSED, logging.INFO, WRITES_QUIET)

    async def unregister(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(keys.worker_key(self.name))
            pipe.zrem(keys.WORKERS, self.name)
            await pipe.execute()


class LoopWatchdog:
    """Warns while the event loop is blocked, before the block costs the worker its leases.

    A coroutine stamps the time every ``interval``; a thread checks the stamp and warns,
    naming the running jobs, once the loop has been stuck for ``lease / 3`` seconds. A
    blocked loop cannot renew leases, so a job that blocks it for longer than the lease
    is handed to another worker: the warning says which job to fix.
    """

    def __init__(self, lease: float, describe_running: Callable[[], str],
                 interval: float = 0.1) -> None:
        self.threshold = max(0.5, lease / 3)
        self.describe_running = describe_running
        self.interval = interval
        self.stalls = 0
        self._last_tick = time.monotonic()
        self._stop = threading.Event()

    async def run(self) -> None:
        thread = threading.Thread(target=self._watch, name="aqueue-watchdog", daemon=True)
        thread.start()
        try:
            while True:
                self._last_tick = time.monotonic()
                await asyncio.sleep(self.interval)
        finally:
            self._stop.set()

    def _watch(self) -> None:
        warned_for = 0.0
        while not self._stop.wait(self.interval):
            tick = self._last_tick
            stuck = time.monotonic() - tick
            if stuck >= self.threshold and warned_for != tick:
                warned_for = tick
                self.stalls += 1
                try:
                    running = self.describe_running()
                except RuntimeError:  # the loop thread changed the dict meanwhile
                    running = "(unknown)"
                logger.warning(
                    "event loop blocked for %.1f s so far: a coroutine is running blocking code "
                    "(make it a plain def; it then runs in a thread). Leases are not renewed "
                    "while the loop is blocked. Running: %s", stuck, running)
