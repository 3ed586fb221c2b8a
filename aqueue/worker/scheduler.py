"""The scheduler coroutine: promotes due delayed and retrying jobs, and reaps expired leases.

It sleeps until the earliest scheduled entry is due, not on a fixed poll. Enqueueing
an entry that is due sooner pushes to the queue's ``wake`` list, which a listener
coroutine blocks on, so the sleep is cut short. Every step is one atomic script, so
any number of workers can run schedulers side by side without moving a job twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from redis.asyncio import Redis

from aqueue.store.connection import max_block
from aqueue.store.keys import QueueKeys
from aqueue.store.scripts import Scripts
from aqueue.worker.backoff import TRANSIENT_ERRORS, Backoff
from aqueue.worker.log_text import clip

logger = logging.getLogger("aqueue.scheduler")

PROMOTE_BATCH = 1000
REAP_BATCH = 1000
MAX_SLEEP = 30.0
LISTEN_TIMEOUT = 5.0


class Scheduler:
    def __init__(
        self, redis: Redis, scripts: Scripts, queues: Sequence[QueueKeys], *,
        reap_interval: float, max_deliveries: int,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.queues = list(queues)
        self._blocks = [(keys, keys.script_keys()) for keys in self.queues]
        self.reap_interval = reap_interval
        self.max_deliveries = max_deliveries
        self.promoted = 0
        self.reaped = 0
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="aqueue-scheduler-listener")
        backoff = Backoff()
        next_reap = 0.0
        try:
            while True:
                try:
                    now = time.time()
                    next_due = await self.promote(now)
                    if now >= next_reap:
                        await self.reap(now)
                        next_reap = now + self.reap_interval
                    backoff.reset()
                except TRANSIENT_ERRORS as exc:
                    await asyncio.sleep(backoff.log(logger, "scheduler", exc))
                    continue
                wake_at = min(next_reap, next_due if next_due is not None else now + MAX_SLEEP)
                delay = wake_at - time.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()
        finally:
            listener.cancel()

    async def promote(self, now: float) -> float | None:
        """Move due entries to their queues; return when the next entry is due."""
        earliest: float | None = None
        for _, block in self._blocks:
            while True:
                moved, next_score = await self.scripts.run(
                    "promote", block, [repr(now), PROMOTE_BATCH])
                self.promoted += moved
                if moved < PROMOTE_BATCH:
                    break
            if next_score is not None:
                due = float(next_score)
                earliest = due if earliest is None else min(earliest, due)
        return earliest

    async def reap(self, now: float) -> None:
        """Hand back jobs whose lease expired; fail those delivered too often."""
        for keys, block in self._blocks:
            requeued, failed = await self.scripts.run(
                "reap", block, [repr(now), self.max_deliveries, REAP_BATCH])
            for job_id in requeued:
                logger.warning("job %s in %s: lease expired (worker died or stalled); requeued",
                               clip(job_id.decode()), keys.name)
            for job_id in failed:
                logger.error("job %s in %s: worker died %d times while running it; failed",
                             clip(job_id.decode()), keys.name, self.max_deliveries)
            self.reaped += len(requeued) + len(failed)

    async def _listen(self) -> None:
        wake_keys = [keys.wake for keys in self.queues]
        timeout = max_block(self.redis, LISTEN_TIMEOUT)
        backoff = Backoff()
        while True:
            try:
                if await self.redis.blpop(wake_keys, timeout=timeout):
                    self._wake.set()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, "scheduler listener", exc))
