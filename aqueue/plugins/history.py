"""The history plugin: each queue's counters sampled once a minute (and once an hour)
into a capped list per queue, for the dashboard's throughput and failure-rate charts.

Every worker runs it; ``sample.lua`` writes a minute's sample only on the first call of
that minute by Redis's clock, so the series has one sample per minute however many
workers run (and gaps only while none does). It costs one script call per queue per
minute, nothing on the job path. The worker that wrote a minute's sample also prunes the
queue's search index, if it has one, of jobs that are gone.
"""

from __future__ import annotations

import logging
import math
import random

from aqueue.client.history import HOURS_KEPT, MINUTES_KEPT
from aqueue.plugins.base import PluginContext, repeat
from aqueue.store.keys import QueueKeys

logger = logging.getLogger("aqueue.history")
PRUNE_CALLS = 20  # slices of the index pruned per queue per minute, at most
PRUNE_SLICE = 1000


class History:
    name = "history"

    def __init__(self) -> None:
        self.samples = 0  # samples this worker wrote
        self.pruned = 0

    async def run(self, context: PluginContext) -> None:
        async def step() -> float:
            now = await self.sample(context)
            # just after the next minute begins, by Redis's clock; spread over a second
            return math.floor(now / 60) * 60 + 60 - now + random.uniform(0.05, 1.0)

        await repeat(step, logger, "sampling the queues' history")

    async def sample(self, context: PluginContext) -> float:
        """Sample every queue of the worker; returns Redis's time."""
        now = 0.0
        for keys in context.queues:
            wrote, stamp = await context.store.script(
                "sample", keys.script_keys(), [MINUTES_KEPT, HOURS_KEPT])
            now = float(stamp)
            if wrote:
                self.samples += 1
                await self.prune_index(context, keys)
        return now

    async def prune_index(self, context: PluginContext, keys: QueueKeys) -> None:
        for _ in range(PRUNE_CALLS):
            pruned, looked, wrapped = await context.store.script(
                "index_prune", keys.script_keys(), [PRUNE_SLICE])
            self.pruned += pruned
            if wrapped or not looked:
                return
