"""One reading of a queue, for metrics, alerts and the live view: its job counts, its
outcome totals and how long its next job has waited, all read through ``AsyncAdmin``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.client.ops import QueueCounts, QueueTotals


@dataclass(frozen=True, slots=True)
class QueueSample:
    name: str
    counts: QueueCounts
    totals: QueueTotals
    oldest_age: float | None  # seconds the next queued job has waited; None: none queued
    at: float  # time.monotonic() when it was read


async def sample_queue(admin: AsyncAdmin, name: str) -> QueueSample:
    counts, totals, oldest = await asyncio.gather(
        admin.queue(name).counts(), admin.queue_totals(name), admin.oldest_queued_age(name))
    return QueueSample(name, counts, totals, oldest, time.monotonic())


async def sample_queues(admin: AsyncAdmin, names: Sequence[str]) -> list[QueueSample]:
    """Every queue in ``names``, read concurrently (pipelined on one connection)."""
    return list(await asyncio.gather(*(sample_queue(admin, name) for name in names)))


def workers_by_queue(workers: Sequence[WorkerInfo], *, include_stale: bool = False
                     ) -> dict[str, int]:
    """How many live workers serve each queue (stalled ones left out unless asked)."""
    serving: dict[str, int] = {}
    for worker in workers:
        if worker.stale and not include_stale:
            continue
        for queue in worker.queues:
            serving[queue] = serving.get(queue, 0) + 1
    return serving
