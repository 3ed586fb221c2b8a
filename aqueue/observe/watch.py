"""``aqueue info --watch``: the queues, refreshed every few seconds, with per-queue rates
from the differences of their outcome totals between two readings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.observe.sampling import QueueSample, sample_queues, workers_by_queue


@dataclass(frozen=True, slots=True)
class Rates:
    """Jobs per second between two readings of a queue."""

    finished: float
    failed: float
    retried: float


def rates(before: QueueSample | None, after: QueueSample) -> Rates | None:
    """None without an earlier reading (or with one taken at the same instant)."""
    if before is None or after.at <= before.at:
        return None
    seconds = after.at - before.at

    def per_second(now: int, then: int) -> float:
        return max(0, now - then) / seconds  # totals only grow, unless reset

    return Rates(per_second(after.totals.finished, before.totals.finished),
                 per_second(after.totals.failed, before.totals.failed),
                 per_second(after.totals.retried, before.totals.retried))


def render(samples: Sequence[QueueSample], previous: dict[str, QueueSample],
           workers: Sequence[WorkerInfo], heading: str) -> Group:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("queue", "queued", "scheduled", "started", "failed", "finished/s",
                   "failed/s", "retried/s", "oldest wait", "workers"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    serving = workers_by_queue(workers)
    for sample in samples:
        c = sample.counts
        r = rates(previous.get(sample.name), sample)
        table.add_row(
            sample.name, str(c.queued), str(c.scheduled), str(c.started),
            Text(str(c.failed), style="red" if c.failed else ""),
            *((f"{r.finished:.1f}", f"{r.failed:.1f}", f"{r.retried:.1f}") if r else
              ("-", "-", "-")),
            _duration(sample.oldest_age), str(serving.get(sample.name, 0)))
    live = [w for w in workers if not w.stale]
    stalled = len(workers) - len(live)
    footer = f"{len(live)} live worker(s)" + (f", {stalled} stalled" if stalled else "")
    if not samples:
        return Group(Text(heading), Text("(no queues)"), Text(footer))
    return Group(Text(heading), table, Text(footer))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


async def watch(admin: AsyncAdmin, names: Sequence[str], interval: float,
                console: Console | None = None, *, iterations: int | None = None) -> None:
    """Show the queues (``names``, or every queue found at each refresh) every
    ``interval`` seconds, until cancelled (or ``iterations`` refreshes). On a terminal the
    view updates in place; otherwise each refresh is printed after the last."""
    console = console or Console()
    previous: dict[str, QueueSample] = {}
    shown = 0

    async def frame() -> Group:
        found = list(names) or await admin.queues()
        samples, workers = await asyncio.gather(sample_queues(admin, found), admin.workers())
        heading = (f"Redis {admin.store.describe()}  every {interval:g} s  "
                   f"{time.strftime('%H:%M:%S')}")
        view = render(samples, previous, workers, heading)
        previous.clear()
        previous.update({s.name: s for s in samples})
        return view

    if not console.is_terminal:
        while iterations is None or shown < iterations:
            console.print(await frame())
            shown += 1
            if iterations is None or shown < iterations:
                await asyncio.sleep(interval)
        return
    with Live(await frame(), console=console, auto_refresh=False) as live:
        shown = 1
        while iterations is None or shown < iterations:
            await asyncio.sleep(interval)
            live.update(await frame(), refresh=True)
            shown += 1
