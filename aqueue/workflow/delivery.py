"""The delivery plugin: hands the outbox messages of a worker's queues to the jobs that
wait for them (``ops.deliver``).

The acker kicks it when an ack wrote messages, so a child is released within a round
trip of its parent's end; every worker also sweeps its queues' outboxes every
``SWEEP`` seconds, which delivers what a worker killed between the two steps left behind
(and the ends recorded by the reaper or an expiry). Delivering twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aqueue.plugins.base import PluginContext, repeat
from aqueue.workflow.ops import deliver, drive

logger = logging.getLogger("aqueue.workflow")
SWEEP = 1.0


class Delivery:
    name = "delivery"

    def __init__(self, sweep: float = SWEEP) -> None:
        self.sweep = sweep
        self.delivered = 0
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """An ack wrote outbox messages: deliver now."""
        self._kick.set()

    async def run(self, context: PluginContext) -> None:
        names = [keys.name for keys in context.queues]

        async def step() -> float:
            self._kick.clear()
            self.delivered += await drive(context.store, deliver(names))
            if not self._kick.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self.sweep)
            return 0.0

        await repeat(step, logger, "delivering the ends of jobs to their dependents")
