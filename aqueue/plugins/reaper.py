"""The reaper: jobs whose lease expired (their worker died or stalled) go back to their
queue, or fail as ``WorkerDied`` once delivered ``max_deliveries`` times.

Every worker reaps every queue it serves; each reap is one atomic script per queue, so
any number of reapers side by side never move a job twice.
"""

from __future__ import annotations

import logging

from aqueue.log_text import clip
from aqueue.plugins.base import PluginContext, repeat

logger = logging.getLogger("aqueue.reaper")
REAP_BATCH = 1000


class Reaper:
    name = "reaper"

    def __init__(self) -> None:
        self.reaped = 0

    async def run(self, context: PluginContext) -> None:
        interval = min(context.lease / 3, 5.0)

        async def step() -> float:
            await self.reap(context)
            return interval

        await repeat(step, logger, "reaping expired leases")

    async def reap(self, context: PluginContext) -> None:
        for keys in context.queues:
            requeued, failed, gone = await context.store.script(
                "reap", keys.script_keys(), [context.max_deliveries, REAP_BATCH])
            for job_id in requeued:
                logger.warning("job %s in %s: lease expired (worker died or stalled); requeued",
                               clip(job_id.decode()), keys.name)
            for job_id in failed:
                logger.error("job %s in %s: worker died %d times while running it; failed",
                             clip(job_id.decode()), keys.name, context.max_deliveries)
            for job_id in gone:
                logger.error("job %s in %s: its lease expired and the job no longer exists in "
                             "Redis (restarted without persistence, or flushed?)",
                             clip(job_id.decode()), keys.name)
            self.reaped += len(requeued) + len(failed)
