"""What the pages show, as plain JSON-ready dicts, read through ``AsyncAdmin`` and
``AsyncQueue``. Job data (arguments, results, errors) is only ever text here: the pages
put it in the document with ``textContent``, never as markup."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict
from typing import Any

from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.client.async_queue import AsyncQueue
from aqueue.client.history import rates
from aqueue.client.ops_inspect import RunningJob
from aqueue.client.search import VALUE_MAX, SearchQuery
from aqueue.job import Job, JobRecord
from aqueue.serializers import Serializer

PREVIEW = 160
DETAIL = 50_000
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def decoded(serializer: Serializer, raw: bytes | None, limit: int = DETAIL) -> str:
    """A payload as indented JSON text; never runs code (pickle is not decoded unless the
    dashboard was given a pickle serializer)."""
    if raw is None:
        return "null"
    try:
        value = serializer.loads(raw)
        text = json.dumps(value, ensure_ascii=False, indent=2, default=repr)
    except Exception:
        text = f"(not readable by {type(serializer).__name__}: {len(raw):,} bytes) {raw[:200]!r}"
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text):,} characters)"


def _call_preview(serializer: Serializer, job: JobRecord) -> str:
    try:
        args = [] if job.args == b"[]" else serializer.loads(job.args)
        kwargs = {} if job.kwargs == b"{}" else serializer.loads(job.kwargs)
        parts = [json.dumps(a, ensure_ascii=False, default=repr) for a in args]
        parts += [f"{k}={json.dumps(v, ensure_ascii=False, default=repr)}"
                  for k, v in kwargs.items()]
        text = ", ".join(parts)
    except Exception:
        text = "(arguments not readable)"
    return text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…"


def job_row(serializer: Serializer, job: JobRecord) -> dict[str, Any]:
    """A job as a row of a list."""
    return {
        "id": job.id, "queue": job.queue_name, "func": job.func, "status": str(job.status),
        "args": _call_preview(serializer, job), "enqueued_at": job.enqueued_at,
        "scheduled_for": job.scheduled_for, "started_at": job.started_at,
        "ended_at": job.ended_at, "attempts": job.attempts,
        "max_attempts": 1 + (job.retry.max if job.retry else 0),
        "error": f"{job.exc_type}: {job.exc_message}"[:300] if job.exc_type else None,
        "worker": job.worker,
    }


def job_detail(serializer: Serializer, job: JobRecord) -> dict[str, Any]:
    """Everything about one job."""
    row = job_row(serializer, job)
    row.update({
        "args_text": decoded(serializer, job.args), "kwargs_text": decoded(serializer, job.kwargs),
        "result_text": decoded(serializer, job.raw_result) if job.raw_result is not None else None,
        "exc_type": job.exc_type, "exc_message": job.exc_message,
        "traceback": job.exc_traceback, "timeout": job.timeout, "result_ttl": job.result_ttl,
        "failure_ttl": job.failure_ttl,
        "retry": json.loads(job.retry.to_json()) if job.retry else None,
        "description": job.description, "deliveries": job.deliveries,
        "searches": argument_searches(serializer, job),
        # job control: meta, progress, callback error, attempts
        "meta": job.meta or None, "callback_error": job.callback_error,
        "progress": None if job.progress is None else {
            "value": job.progress.value, "total": job.progress.total,
            "message": job.progress.message, "fraction": job.progress.fraction},
        "history": [{"worker": a.worker, "started_at": a.started_at, "ended_at": a.ended_at,
                     "outcome": a.outcome, "exc_type": a.exc_type,
                     "exc_message": a.exc_message} for a in job.attempt_history],
    })
    return row


def related_ids(serializer: Serializer, job: JobRecord) -> list[str]:
    """Argument values (top level, or in lists) that look like job ids."""
    found: list[str] = []
    for raw in (job.args, job.kwargs):
        try:
            value = serializer.loads(raw)
        except Exception:
            continue
        items = list(value.values()) if isinstance(value, dict) else value
        for item in items if isinstance(items, list) else []:
            for v in item if isinstance(item, list) else [item]:
                if isinstance(v, str) and _JOB_ID.match(v) and v != job.id and v not in found:
                    found.append(v)
    return found[:20]


def argument_searches(serializer: Serializer, job: JobRecord) -> list[str]:
    """Searches for the other jobs sharing one of this job's top-level argument values
    (``name=value``), for the scalar ones."""
    try:
        args = serializer.loads(job.args)
        kwargs = serializer.loads(job.kwargs)
    except Exception:
        return []
    pairs = [(str(i), v) for i, v in enumerate(args if isinstance(args, list) else [])]
    pairs += list(kwargs.items()) if isinstance(kwargs, dict) else []
    out = []
    for name, value in pairs:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            continue
        if text and len(text.encode()) <= VALUE_MAX:
            out.append(str(SearchQuery(args=((name, text),))))
    return out[:6]


def worker_row(w: WorkerInfo) -> dict[str, Any]:
    return {"name": w.name, "host": w.host, "pid": w.pid, "queues": w.queues,
            "concurrency": w.concurrency, "in_flight": w.in_flight, "processed": w.processed,
            "failed": w.failed, "heartbeat_age": w.heartbeat_age, "lease": w.lease,
            "started_at": w.started_at, "stale": w.stale, "supervisor": w.supervisor,
            "sharing_name": w.sharing_name}


def running_row(queue: str, job: RunningJob) -> dict[str, Any]:
    r = job.record
    return {"queue": queue, "id": r["id"], "func": r["func"], "running_for": job.running_for,
            "timeout": r["timeout"], "lease_left": job.lease_left, "attempts": r["attempts"]}


# What the overview's chart spans: the history's resolution, and how many samples.
SPANS = {"1h": ("minute", 61), "24h": ("minute", 1440), "30d": ("hour", 721)}


async def overview(admin: AsyncAdmin, queues: dict[str, AsyncQueue], names: list[str],
                   memory: dict[str, dict[str, Any]], span: str = "1h") -> dict[str, Any]:
    """Every queue's counts, rates over ``span`` (see ``SPANS``), memory (as last
    measured), and the live workers."""
    if span not in SPANS:
        raise ValueError(f"unknown span {span!r}: choose one of {', '.join(SPANS)}")
    resolution, limit = SPANS[span]
    workers = await admin.workers()
    served: dict[str, int] = {}
    for w in workers:
        for q in w.queues:
            served[q] = served.get(q, 0) + 1
    counts = await asyncio.gather(*(queues[n].counts() for n in names))
    histories = await asyncio.gather(*(queues[n].history(resolution, limit) for n in names))
    rows = []
    for name, c, samples in zip(names, counts, histories, strict=True):
        series = rates(samples)
        rows.append({
            "name": name, "counts": asdict(c), "workers": served.get(name, 0),
            "memory": memory.get(name),
            "rates": [{"at": r.at, "finished": round(r.finished, 2), "failed": round(r.failed, 2),
                       "enqueued": round(r.enqueued, 2)} for r in series],
        })
    return {"now": time.time(), "span": span, "queues": rows,
            "workers": [worker_row(w) for w in workers]}


async def memory_of(queue: AsyncQueue) -> dict[str, Any]:
    used = await queue.memory()
    index = await queue.search_index()
    return {"total": used.total + index.bytes, "per_job": used.per_job, "jobs": used.jobs,
            "index": index.bytes if index.enabled or index.jobs else None}


def page_of(jobs: list[Job[Any]], serializer: Serializer) -> list[dict[str, Any]]:
    return [job_row(serializer, j) for j in jobs]
