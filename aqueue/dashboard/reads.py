"""The data of each page, as the first render embeds it and the live stream pushes it."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict
from typing import Any

from aqueue.client.search import STATES, SearchQuery
from aqueue.dashboard.state import DashboardState
from aqueue.dashboard.views import (
    job_detail,
    job_row,
    overview,
    related_ids,
    running_row,
    worker_row,
)
from aqueue.errors import NoSuchJobError

PER_PAGE = 25
RECENT = 10_000  # finished and canceled jobs listed (aq:{Q}:finished, :canceled)
CROSS_QUEUE = 100  # jobs shown on the failed and scheduled pages


async def overview_data(state: DashboardState, span: str = "1h") -> dict[str, Any]:
    names = await state.names()
    memory = await state.memory(names)
    data = await overview(state.admin, {n: state.queue(n) for n in names}, names, memory, span)
    data["servers"] = await state.servers()
    data["read_only"] = state.settings.read_only
    return data


def _listed(counts: dict[str, Any], view: str) -> int:
    if view in ("finished", "canceled"):
        return min(int(counts[view]), RECENT)
    return int(counts[view])


async def queue_data(state: DashboardState, name: str, view: str, text: str, page: int,
                     cursor: str | None) -> dict[str, Any]:
    """One queue: its counts, and a page of its jobs in ``view`` (a state), or of the
    jobs matching the search ``text`` (in that state, unless the text names one)."""
    if view not in STATES:
        raise ValueError(f"unknown state {view!r}: choose one of {', '.join(STATES)}")
    queue = state.queue(name)
    counts, index = await asyncio.gather(queue.counts(), queue.search_index())
    counts_view = asdict(counts)
    out: dict[str, Any] = {
        "queue": name, "view": view, "q": text, "counts": counts_view, "now": time.time(),
        "index": {"enabled": index.enabled, "jobs": index.jobs, "bytes": index.bytes,
                  "fields": index.fields},
        "page": page, "cursor": cursor, "next_cursor": None, "pages": None,
        "search": None, "running": None,
    }
    if text.strip():
        query = SearchQuery.parse(text, status=view)
        result = await queue.search(query, cursor, limit=PER_PAGE)
        out["jobs"] = [job_row(state.serializer, j) for j in result.jobs]
        out["next_cursor"] = result.cursor
        out["search"] = {"query": str(query), "indexed": result.indexed,
                         "looked_at": result.looked_at, "size": result.size}
        return out
    listed = _listed(counts_view, view)
    out["pages"] = max(1, math.ceil(listed / PER_PAGE))
    start = page * PER_PAGE
    if view == "started":
        running = await queue.running(start, start + PER_PAGE - 1)
        out["running"] = {r.record["id"]: running_row(name, r) for r in running}
        jobs = await queue.fetch_jobs(*(r.record["id"] for r in running))
    else:
        jobs = await queue.jobs(view, start, start + PER_PAGE - 1)
    out["jobs"] = [job_row(state.serializer, j) for j in jobs]
    return out


async def job_data(state: DashboardState, name: str, job_id: str) -> dict[str, Any]:
    queue = state.queue(name)
    try:
        job = await queue.fetch_job(job_id)
    except NoSuchJobError as exc:
        return {"queue": name, "id": job_id, "missing": str(exc), "now": time.time()}
    detail = job_detail(state.serializer, job)
    linked = await queue.fetch_jobs(*related_ids(state.serializer, job))
    detail["related"] = [job_row(state.serializer, j) for j in linked]
    detail["now"] = time.time()
    if str(job.status) == "started":
        running = [r for r in await queue.running() if r.record["id"] == job.id]
        detail["running"] = running_row(name, running[0]) if running else None
    return detail


async def workers_data(state: DashboardState) -> dict[str, Any]:
    workers = await state.admin.workers()
    queues = {q: state.queue(q) for w in workers for q in w.queues}
    names = sorted(queues)
    running = dict(zip(names, await asyncio.gather(*(queues[n].running() for n in names)),
                       strict=True))
    rows = []
    for w in workers:
        row = worker_row(w)
        row["jobs"] = [running_row(q, r) for q in w.queues for r in running.get(q, [])
                       if r.record["worker"] == w.name]
        rows.append(row)
    return {"workers": rows, "now": time.time()}


async def state_data(state: DashboardState, view: str) -> dict[str, Any]:
    """The failed (newest first) or scheduled (soonest first) jobs of every queue."""
    if view not in ("failed", "scheduled"):
        raise ValueError(f"no cross-queue page for {view!r}: failed or scheduled")
    names = await state.names()
    pages = await asyncio.gather(*(state.queue(n).jobs(view, 0, CROSS_QUEUE - 1) for n in names))
    counts = await asyncio.gather(*(state.queue(n).counts() for n in names))
    jobs = [j for page in pages for j in page]
    if view == "failed":
        jobs.sort(key=lambda j: -(j.ended_at or 0))
    else:
        jobs.sort(key=lambda j: j.scheduled_for or 0)
    return {"view": view, "now": time.time(), "jobs": [job_row(state.serializer, j)
                                                       for j in jobs[:CROSS_QUEUE]],
            "total": sum(getattr(c, view) for c in counts),
            "queues": {n: getattr(c, view) for n, c in zip(names, counts, strict=True)}}
