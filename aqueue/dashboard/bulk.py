"""Bulk actions: requeue, delete or cancel every job matching a filter, in the
background, with progress the pages follow live.

A bulk action first collects the ids that match (the search walks the index, or the
registries a slice at a time), then acts on them in batches through ``AsyncQueue``.
Collecting first means acting never disturbs the walk (a requeued job leaves the failed
registry the walk goes through). Tasks live in this process's memory.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aqueue.client.async_queue import AsyncQueue
from aqueue.client.search import SearchQuery

ACTIONS = ("requeue", "delete", "cancel")
BATCH = 500
KEPT = 50  # finished tasks remembered


@dataclass
class BulkTask:
    id: str
    queue: str
    action: str
    query: str
    phase: str = "collecting"  # collecting, acting, done, failed
    matched: int = 0
    processed: int = 0
    changed: int = 0  # jobs the action applied to (requeued, deleted, canceled)
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    def view(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "queue", "action", "query", "phase", "matched", "processed", "changed",
            "error", "started_at", "ended_at")}


async def apply(queue: AsyncQueue, action: str, ids: list[str]) -> int:
    """Run ``action`` on ``ids``; returns how many jobs it changed."""
    if action == "requeue":
        return await queue.requeue_failed(*ids)
    if action == "delete":
        return await queue.delete(*ids)
    if action == "cancel":
        return sum(await asyncio.gather(*(queue.cancel(i) for i in ids)))
    raise ValueError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")


class BulkRunner:
    def __init__(self) -> None:
        self.tasks: OrderedDict[str, BulkTask] = OrderedDict()
        self._running: set[asyncio.Task[None]] = set()

    def start(self, queue: AsyncQueue, action: str, query: SearchQuery) -> BulkTask:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")
        task = BulkTask(os.urandom(8).hex(), queue.name, action, str(query))
        self.tasks[task.id] = task
        while len(self.tasks) > KEPT and next(iter(self.tasks.values())).ended_at:
            self.tasks.popitem(last=False)
        runner = asyncio.create_task(self._run(task, queue, query))
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)
        return task

    async def _run(self, task: BulkTask, queue: AsyncQueue, query: SearchQuery) -> None:
        try:
            ids: list[str] = []
            cursor: str | None = None
            while True:
                page = await queue.search(query, cursor, limit=1000)
                ids += [j.id for j in page.jobs]
                task.matched = len(ids)
                cursor = page.cursor
                if cursor is None:
                    break
            task.phase = "acting"
            for start in range(0, len(ids), BATCH):
                batch = ids[start:start + BATCH]
                task.changed += await apply(queue, task.action, batch)
                task.processed += len(batch)
            task.phase = "done"
        except Exception as exc:
            task.phase, task.error = "failed", str(exc) or type(exc).__name__
        finally:
            task.ended_at = time.time()

    def cancel_all(self) -> None:
        for runner in self._running:
            runner.cancel()
