"""The promoter: delayed and retrying jobs move to their queue when due.

It sleeps until the earliest scheduled entry is due (by Redis's clock), not on a fixed
poll. Enqueueing an entry that is due sooner pushes to the queue's ``wake`` list, which a
listener blocks on (one blocking connection per queue group), cutting the sleep short.
Each promotion is one atomic script per queue, so promoters side by side never move a
job twice.
"""

from __future__ import annotations

import asyncio
import logging

from aqueue.plugins.base import PluginContext, repeat
from aqueue.worker.groups import QueueGroup

logger = logging.getLogger("aqueue.promoter")
PROMOTE_BATCH = 1000
MAX_SLEEP = 30.0
LISTEN_TIMEOUT = 5.0


class Promoter:
    name = "promoter"

    def __init__(self) -> None:
        self.promoted = 0
        self._wake = asyncio.Event()

    async def run(self, context: PluginContext) -> None:
        listeners = [asyncio.create_task(self._listen(context, group),
                                         name=f"aqueue-promoter-listener-{group.index}")
                     for group in context.groups]

        async def step() -> float:
            for listener in listeners:  # a listener that gave up (an ACL refusal) stops us
                if listener.done() and not listener.cancelled() and listener.exception():
                    raise listener.exception()  # type: ignore[misc]
            self._wake.clear()
            delay = await self.promote(context)
            wake = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait([wake, *listeners], timeout=delay,
                               return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()
            return 0.0

        try:
            await repeat(step, logger, "promoting due jobs")
        finally:
            for listener in listeners:
                listener.cancel()

    async def promote(self, context: PluginContext) -> float:
        """Move due entries to their queues; return seconds until the next one is due."""
        delay = MAX_SLEEP
        for keys in context.queues:
            while True:
                moved, next_score, now = await context.store.script(
                    "promote", keys.script_keys(), [PROMOTE_BATCH])
                self.promoted += moved
                if moved < PROMOTE_BATCH:
                    break
            if next_score is not None:
                delay = min(delay, max(0.0, float(next_score) - float(now)))
        return delay

    async def _listen(self, context: PluginContext, group: QueueGroup) -> None:
        wake_keys = [keys.wake for keys in group.queues]
        connection = context.store.dedicated(group.route, name=f"{context.worker_name}:wake")

        async def step() -> float:
            if await connection.call("BLPOP", *wake_keys, LISTEN_TIMEOUT,
                                     timeout=LISTEN_TIMEOUT):
                self._wake.set()
            return 0.0

        try:
            await repeat(step, logger, "waiting for scheduled jobs")
        finally:
            connection.close()
