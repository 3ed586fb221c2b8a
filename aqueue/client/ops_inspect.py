"""The operations the dashboard reads and acts through, beside ``ops.py`` (same style:
generators of Redis steps, driven by ``AsyncQueue`` and the sync ``Queue``): search and
its index, the history of counters, and running jobs with their leases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aqueue.client.history import HOURS_KEPT, MINUTES_KEPT, RESOLUTIONS, HistorySample
from aqueue.client.ops import Call, Many, Op, Script
from aqueue.client.search import (
    DEFAULT_BUDGET,
    INDEX_BUDGET,
    STATES,
    IndexInfo,
    IndexKeys,
    SearchCursor,
    SearchPage,
    SearchQuery,
)
from aqueue.store.keys import QueueKeys

BACKFILL_BATCH = 1000
DROP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A started job's record, with its lease and elapsed time by Redis's clock."""

    record: dict[str, Any]
    running_for: float  # seconds since it started
    lease_left: float  # seconds until its lease expires (negative: expired, to be reaped)


def records(keys: QueueKeys, name: str, ids: Sequence[str]) -> Op[list[dict[str, Any]]]:
    """The records of the jobs that still exist, in the order of ``ids``."""
    from aqueue.job import JobRecord

    if not ids:
        return []
    replies = yield Many([("HGETALL", keys.job(i)) for i in ids], keys.queued)
    out = []
    for job_id, data in zip(ids, replies, strict=True):
        if isinstance(data, list) and data:
            pairs = dict(zip(data[::2], data[1::2], strict=True))
            out.append(JobRecord.fields_from_hash(job_id, name, pairs))
    return out


def search(keys: QueueKeys, name: str, query: SearchQuery, cursor: str | None, limit: int,
           budget: int | None) -> Op[SearchPage]:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    position = SearchCursor.parse(cursor)
    if query.id:
        found = yield from records(keys, name, [query.id])
        found = [r for r in found if (not query.func or r["func"] == query.func)
                 and (not query.status or r["status"] == query.status)]
        return SearchPage(found, None, 1, 1, False)
    terms = query.terms()
    if position is None:
        fields = yield Call(("HGET", IndexKeys.of(keys).config, "fields"), keys.queued)
        position = SearchCursor(indexed=fields is not None and bool(terms))
    if position.indexed:
        ids, after, looked, size = yield Script("search_index", keys.script_keys(), [
            limit, budget or INDEX_BUDGET, query.status or "", position.position, *terms])
    else:
        states = [query.status] if query.status else list(STATES)
        ids, after, looked, size = yield Script("search_scan", keys.script_keys(), [
            limit, budget or DEFAULT_BUDGET, position.position, ",".join(states), *terms])
    found = yield from records(keys, name, [i.decode() for i in ids])
    next_cursor = None
    if after:
        position.position = after.decode()
        next_cursor = str(position)
    return SearchPage(found, next_cursor, int(looked), int(size), position.indexed)


def index_info(keys: QueueKeys, sample: int = 20) -> Op[IndexInfo]:
    """Whether the index is on, and its size (memory estimated from a sample of terms)."""
    ix = IndexKeys.of(keys)
    fields, jobs, terms_bytes, entries = yield Many([
        ("HGET", ix.config, "fields"), ("HLEN", ix.terms), ("MEMORY", "USAGE", ix.terms),
        ("HRANDFIELD", ix.terms, sample, "WITHVALUES")], keys.queued)
    total = terms_bytes if isinstance(terms_bytes, int) else 0
    per_job = 0.0
    if isinstance(entries, list) and entries:
        term_lists = [set(v.split(b"\0")) for v in entries[1::2]]
        per_job = sum(len(t) for t in term_lists) / len(term_lists)
        distinct = sorted(set().union(*term_lists))[:sample]
        replies = yield Many([c for t in distinct for c in (
            ("MEMORY", "USAGE", ix.prefix.encode() + t), ("ZCARD", ix.prefix.encode() + t))],
            keys.queued)
        used = sum(r for r in replies[0::2] if isinstance(r, int))
        members = sum(r for r in replies[1::2] if isinstance(r, int))
        if members:
            total += int(used / members * per_job * jobs)
    shown = None if fields in (None, b"*") else tuple(fields.decode().split(","))
    return IndexInfo(fields is not None, shown, int(jobs), total, per_job)


def enable_index(keys: QueueKeys, fields: Sequence[str] | None) -> Op[None]:
    if fields is not None:
        bad = [f for f in fields if not f or "," in f or "=" in f]
        if not fields or bad:
            raise ValueError(f"invalid index fields {list(fields)!r}: give argument names or "
                             "positions (0, 1...), or None for every argument")
    value = "*" if fields is None else ",".join(fields)
    yield Call(("HSET", IndexKeys.of(keys).config, "fields", value), keys.queued)


def backfill_index(keys: QueueKeys) -> Op[int]:
    """Index the jobs the queue holds that are not indexed (enqueued before it was on)."""
    total = 0
    for state in STATES:
        start = 0
        while True:
            key, read = keys.registry(state)
            ids = yield Call((read, key, start, start + BACKFILL_BATCH - 1), keys.queued)
            if ids:
                total += int((yield Script("index_backfill", keys.script_keys(), ids)))
            if len(ids) < BACKFILL_BATCH:
                break
            start += BACKFILL_BATCH
    return total


def drop_index(keys: QueueKeys) -> Op[None]:
    while int((yield Script("index_drop", keys.script_keys(), [DROP_BATCH]))):
        pass


def history(keys: QueueKeys, resolution: str, limit: int) -> Op[list[HistorySample]]:
    """Samples, oldest first: the last ``limit`` minutes (or hours)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}: choose minute or hour")
    cap = MINUTES_KEPT if resolution == "minute" else HOURS_KEPT
    if not 1 <= limit <= cap:
        raise ValueError(f"limit must be 1 to {cap} for {resolution}s, got {limit}")
    lines = yield Call(("LRANGE", f"{keys.base}history:{resolution}", 0, limit - 1),
                       keys.queued)
    samples = []
    for line in reversed(lines):
        try:
            samples.append(HistorySample.parse(line))
        except ValueError:
            continue  # not written by the history plugin: skip it, keep the chart
    return samples


def running(keys: QueueKeys, name: str, start: int, stop: int) -> Op[list[RunningJob]]:
    """Started jobs, soonest lease expiry first, with elapsed time and lease left."""
    now, leases = yield Many([("TIME",), ("ZRANGE", keys.started, start, stop, "WITHSCORES")],
                             keys.queued)
    clock = int(now[0]) + int(now[1]) / 1e6
    deadlines = {leases[i].decode(): float(leases[i + 1]) for i in range(0, len(leases), 2)}
    found = yield from records(keys, name, list(deadlines))
    return [RunningJob(r, clock - r["started_at"] if r["started_at"] else 0.0,
                       deadlines[r["id"]] - clock) for r in found]
