"""The producer's operations on one queue, written once for both clients.

Each operation is a generator that yields the Redis steps it needs (a command, a script,
a batch, a pause) and receives their replies; ``AsyncQueue`` drives it with ``await``,
the sync ``Queue`` with blocking calls. So what an operation sends and how it reads the
answer exists in one place, whichever client runs it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import ResponseError

from aqueue.client.encoding import Draft
from aqueue.errors import EnqueueUncertain, JobExistsError, NoSuchJobError, PayloadTooLarge
from aqueue.job import JobStatus
from aqueue.observe import hooks
from aqueue.store import keys
from aqueue.store.errors import ConnectionLost
from aqueue.store.keys import QueueKeys

if TYPE_CHECKING:
    from aqueue.client.history import HistorySample
    from aqueue.client.ops_inspect import RunningJob
    from aqueue.client.search import IndexInfo, SearchPage, SearchQuery

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    command: tuple[Any, ...]
    key: str | bytes | None = None


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    keys: list[str]
    args: list[Any]
    before: tuple[tuple[Any, ...], ...] = ()  # commands run first, in one MULTI with it


@dataclass(frozen=True, slots=True)
class Many:
    commands: list[tuple[Any, ...]]
    key: str | bytes | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Call | Script | Many | Sleep
Op = Generator[Step, Any, T]

RESEND_PAUSES = (0.05, 0.2, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Jobs in each state now (queued, scheduled, started, failed), totals since the queue
    began (finished, retried, canceled, enqueued, expired), and how long the oldest queued
    job has waited (None if nothing is queued)."""

    queued: int
    scheduled: int
    started: int
    failed: int
    finished: int
    retried: int = 0
    canceled: int = 0
    enqueued: int = 0
    oldest_queued_age: float | None = None
    expired: int = 0  # jobs not started before they expired (``expires``)
    deferred: int = 0  # jobs waiting for the jobs they depend on (``depends_on``)


# Where each listed state's ids are, and how to read a page of them.
LISTED_STATES = ("queued", "scheduled", "started", "failed", "finished", "canceled",
                 "deferred")
PAGE_LIMIT = 1000

REDIS_BULK_LIMIT = 512 * 1024 * 1024  # proto-max-bulk-len's default


class QueueOps:
    """What producers send for one queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys = QueueKeys.for_queue(name)
        self.block = self.keys.script_keys()
        self.bulk_limit = REDIS_BULK_LIMIT  # until the server says

    def missing(self, job_id: str, why: str = "it may have expired") -> NoSuchJobError:
        return NoSuchJobError(f"no job {job_id} in queue {self.name!r} ({why})")

    def first_use(self) -> Op[str | None]:
        """Register the queue's name (for discovery across a cluster) and read its server's
        eviction policy and largest accepted argument (``bulk_limit``, checked before each
        enqueue); returns the policy, or None if Redis will not say."""
        replies = yield Many([("SADD", keys.QUEUES, self.name)], key=keys.QUEUES)
        del replies
        try:
            reply = yield Call(("CONFIG", "GET", "maxmemory-policy", "proto-max-bulk-len"),
                               key=self.keys.queued)
        except ResponseError:  # an ACL without CONFIG, or a managed Redis that hides it
            return None
        pairs = zip(reply[::2], reply[1::2], strict=True) if reply else ()
        config = {bytes(k).decode(): bytes(v).decode() for k, v in pairs}
        if config.get("proto-max-bulk-len", "").isdigit():
            self.bulk_limit = int(config["proto-max-bulk-len"])
        return config.get("maxmemory-policy")

    def _check_bulk(self, drafts: Sequence[Draft]) -> None:
        """Redis drops the connection on an argument over its proto-max-bulk-len, which
        would look like a lost write: refuse it before sending."""
        for draft in drafts:
            size = max(len(draft.args), len(draft.kwargs))
            if size > self.bulk_limit:
                raise PayloadTooLarge(
                    f"cannot enqueue job {draft.id} to {self.name!r}: its arguments take "
                    f"{size:,} bytes, over the server's proto-max-bulk-len of "
                    f"{self.bulk_limit:,}; lower this queue's max_payload, or store large data "
                    "elsewhere and pass a reference")

    def enqueue(self, drafts: Sequence[Draft]) -> Op[float]:
        """Write the jobs (one script call); returns Redis's time of the write. A reply lost
        on the way is resolved by sending again: the script knows its own jobs."""
        if hooks.enqueue_tracer is not None:  # aqueue.observe.tracing is on
            return (yield from hooks.enqueue_tracer.enqueue(self.name, drafts, self._enqueue))
        return (yield from self._enqueue(drafts))

    def _enqueue(self, drafts: Sequence[Draft]) -> Op[float]:
        if self.bulk_limit < REDIS_BULK_LIMIT:
            self._check_bulk(drafts)
        if any(d.options.depends is not None for d in drafts):  # aqueue.workflow
            return (yield from workflow_ops.enqueue(self, drafts))
        if len(drafts) == 1 and drafts[0].written_apart:
            draft = drafts[0]
            step = Script("enqueue", self.block, [1, self.name, *draft.wire(False)], before=(
                ("HSET", self.keys.job(draft.id), "args", draft.args, "kwargs", draft.kwargs),))
        else:
            argv: list[Any] = [len(drafts), self.name]
            for draft in drafts:
                argv += draft.wire()
            step = Script("enqueue", self.block, argv)
        reply = yield from self.write_jobs(step, drafts)
        kept = reply[2] if len(reply) > 2 else []
        for index in range(0, len(kept), 2):  # unique / debounced: the pending job stays
            drafts[int(kept[index]) - 1].existing = kept[index + 1].decode()
        return float(reply[1])

    def write_jobs(self, step: Script, drafts: Sequence[Draft]) -> Op[Any]:
        """Send a script that writes ``drafts``; a reply lost after sending is resolved by
        sending again (the scripts know their own jobs), a taken id is ``JobExistsError``."""
        try:
            return (yield step)
        except ConnectionLost as exc:
            if not exc.sent:
                raise
            return (yield from self._resend(step, drafts, exc))
        except ResponseError as exc:
            raise _job_exists(exc) from None

    def _resend(self, step: Script, drafts: Sequence[Draft], first: ConnectionLost) -> Op[Any]:
        last: Exception = first
        for pause in RESEND_PAUSES:
            yield Sleep(pause)
            try:
                return (yield step)
            except ConnectionLost as exc:
                last = exc
            except ResponseError as exc:
                raise _job_exists(exc) from None
        ids = [d.id for d in drafts]
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        raise EnqueueUncertain(
            f"Redis went away after the enqueue of job {shown} to {self.name!r} was sent, and "
            f"did not come back to confirm it ({last}): the job may or may not be enqueued; "
            f"check with fetch_job() before enqueueing it again", ids)

    def fetch(self, job_id: str) -> Op[dict[str, Any]]:
        """A job's record fields (see ``JobRecord.fields_from_hash``)."""
        from aqueue.job import JobRecord

        data = yield Call(("HGETALL", self.keys.job(job_id)), self.keys.queued)
        if not data:
            raise self.missing(job_id)
        pairs = dict(zip(data[::2], data[1::2], strict=True))
        return JobRecord.fields_from_hash(job_id, self.name, pairs)

    def status(self, job_id: str) -> Op[JobStatus]:
        value = yield Call(("HGET", self.keys.job(job_id), "status"), self.keys.queued)
        if value is None:
            raise self.missing(job_id)
        return JobStatus(value.decode())

    def watch(self, job_id: str) -> Op[dict[bytes, bytes] | None]:
        """The job's hash if it has ended, else None (and the job is flagged, so that its
        end is announced on its events channel)."""
        reply = yield Script("watch", self.block, [job_id])
        if reply is None:
            raise self.missing(job_id, "it ended and was not kept (result_ttl=0 or "
                                       "failure_ttl=0), expired, or was dropped by empty()")
        if isinstance(reply, list):
            return dict(zip(reply[::2], reply[1::2], strict=True))
        return None

    def counts(self) -> Op[QueueCounts]:
        reply = yield Script("counts", self.block, [])
        return QueueCounts(queued=reply[0], scheduled=reply[1], started=reply[2],
                           failed=reply[3], finished=reply[4], retried=reply[5],
                           canceled=reply[6], enqueued=reply[7],
                           oldest_queued_age=float(reply[8]) if reply[8] else None,
                           expired=reply[10], deferred=reply[11])

    def cancel(self, job_id: str) -> Op[bool]:
        """Cancel a queued, scheduled or running job; False if it had ended. A running
        job is recorded as canceled first, then its worker is told to stop its task."""
        outcome = yield Script("cancel", self.block, [job_id])
        if outcome is None:
            raise self.missing(job_id)
        running = isinstance(outcome, list)
        if running:  # push the news to its worker first: it stops the task
            from aqueue.jobcontrol.push import tell_worker

            yield from tell_worker(job_id, outcome[1].decode())
        yield from workflow_ops.deliver_if_any(self.name)  # its dependents, if it has any
        return running or outcome == b"canceled"

    def requeue_failed(self, job_ids: Iterable[str], all: bool) -> Op[int]:
        ids = list(job_ids)
        if not all:
            if not ids:
                return 0
            moved, _ = yield Script("requeue_failed", self.block, ["ids", *ids])
            return int(moved)
        total = 0
        while True:
            moved, looked = yield Script("requeue_failed", self.block, ["all", PAGE_LIMIT])
            total += int(moved)
            if not looked:
                return total

    def empty(self) -> Op[int]:
        total = 0
        while dropped := int((yield Script("empty", self.block, [1000]))):
            total += dropped
        yield from workflow_ops.deliver_if_any(self.name)  # dependents of dropped jobs
        return total

    def queued_ids(self, start: int = 0, end: int = -1) -> Op[list[str]]:
        ids = yield Call(("LRANGE", self.keys.queued, start, end), self.keys.queued)
        return [i.decode() for i in ids]

    def failed_ids(self) -> Op[list[str]]:
        return (yield from self.job_ids("failed"))

    def job_ids(self, state: str, start: int = 0, stop: int = -1) -> Op[list[str]]:
        """Ids of jobs in ``state``, in the order the queue keeps them: queued in the order
        they will run, scheduled by due time, started by lease, failed and the recent
        finished/canceled newest first, deferred in enqueue order."""
        if state not in LISTED_STATES:
            raise ValueError(f"unknown state {state!r}: choose one of {', '.join(LISTED_STATES)}")
        key, command = self.keys.registry(state)
        ids = yield Call((command, key, start, stop), self.keys.queued)
        return [i.decode() for i in ids]

    def jobs(self, state: str, start: int = 0, stop: int = 49) -> Op[list[dict[str, Any]]]:
        """The records of a page of jobs in ``state`` (those that still exist)."""
        from aqueue.job import JobRecord

        ids = yield from self.job_ids(state, start, stop)
        if not ids:
            return []
        replies = yield Many([("HGETALL", self.keys.job(i)) for i in ids], self.keys.queued)
        records = []
        for job_id, data in zip(ids, replies, strict=True):
            if isinstance(data, list) and data:
                pairs = dict(zip(data[::2], data[1::2], strict=True))
                records.append(JobRecord.fields_from_hash(job_id, self.name, pairs))
        return records

    def delete(self, job_ids: Iterable[str]) -> Op[tuple[int, dict[str, str | None]]]:
        """Delete jobs that are not running; returns how many, and the status of each id
        that was not deleted (``started``, or None if there is no such job)."""
        ids = list(job_ids)
        if not ids:
            return 0, {}
        deleted, refused = yield Script("delete", self.block, ["ids", *ids])
        yield from workflow_ops.deliver_if_any(self.name)  # their dependents, if any
        return int(deleted), {r[0].decode(): (r[1].decode() if r[1] else None)
                              for r in refused}

    def delete_failed(self) -> Op[int]:
        total = 0
        while True:
            deleted, _ = yield Script("delete", self.block, ["failed", PAGE_LIMIT])
            total += int(deleted)
            if not deleted:
                return total

    def ping(self) -> Op[float]:
        """Round trip to the queue's server, in seconds."""
        import time

        started = time.perf_counter()
        yield Call(("PING",), self.keys.queued)
        return time.perf_counter() - started

    def memory(self, sample: int = 50) -> Op[QueueMemory]:
        """Bytes Redis uses for the queue: its registries, and job hashes estimated from a
        sample of ``sample`` jobs per state."""
        keys = [self.keys.queued, self.keys.scheduled, self.keys.started, self.keys.failed,
                self.keys.stats, f"{self.keys.base}finished", f"{self.keys.base}canceled"]
        sizes = yield Many([("MEMORY", "USAGE", k) for k in keys], self.keys.queued)
        registries = sum(s for s in sizes if isinstance(s, int))
        counts = yield from self.counts()
        ids: list[str] = []
        for state in ("queued", "scheduled", "failed", "finished"):
            ids += yield from self.job_ids(state, 0, sample - 1)
        jobs = sum((counts.queued, counts.scheduled, counts.started, counts.failed))
        recent = yield Many([("LLEN", keys[5]), ("LLEN", keys[6])], self.keys.queued)
        jobs += sum(r for r in recent if isinstance(r, int))
        per_job = 0.0
        if ids:
            usage = yield Many([("MEMORY", "USAGE", self.keys.job(i)) for i in ids],
                               self.keys.queued)
            measured = [u for u in usage if isinstance(u, int)]
            per_job = sum(measured) / len(measured) if measured else 0.0
        return QueueMemory(registries=registries, per_job=per_job, jobs=jobs,
                           total=int(registries + per_job * jobs))

    # -- dashboard: search and its index, history, running jobs (ops_inspect.py) ---------

    def search(self, query: SearchQuery, cursor: str | None = None, limit: int = 50,
               budget: int | None = None) -> Op[SearchPage]:
        return (yield from ops_inspect.search(self.keys, self.name, query, cursor, limit,
                                              budget))

    def search_index(self) -> Op[IndexInfo]:
        return (yield from ops_inspect.index_info(self.keys))

    def enable_search_index(self, fields: Sequence[str] | None, backfill: bool) -> Op[int]:
        yield from ops_inspect.enable_index(self.keys, fields)
        return (yield from ops_inspect.backfill_index(self.keys)) if backfill else 0

    def drop_search_index(self) -> Op[None]:
        yield from ops_inspect.drop_index(self.keys)

    def history(self, resolution: str, limit: int) -> Op[list[HistorySample]]:
        return (yield from ops_inspect.history(self.keys, resolution, limit))

    def running(self, start: int, stop: int) -> Op[list[RunningJob]]:
        return (yield from ops_inspect.running(self.keys, self.name, start, stop))

    def records(self, job_ids: Sequence[str]) -> Op[list[dict[str, Any]]]:
        return (yield from ops_inspect.records(self.keys, self.name, job_ids))


@dataclass(frozen=True, slots=True)
class QueueMemory:
    registries: int  # bytes of the lists and sorted sets of ids
    per_job: float  # average bytes of a job hash, from a sample
    jobs: int  # jobs the queue holds (queued, scheduled, started, failed, recent ended)
    total: int  # registries + per_job * jobs


from aqueue.client import ops_inspect  # noqa: E402  (it builds on the steps above)
from aqueue.workflow import ops as workflow_ops  # noqa: E402


def _job_exists(exc: ResponseError) -> Exception:
    if str(exc).startswith("JOBEXISTS"):
        return JobExistsError(str(exc).removeprefix("JOBEXISTS "))
    return exc


# -- reads for aqueue.observe (metrics, alerts, `aqueue info --watch`) -----------------
# Module functions rather than QueueOps methods, so this section stays apart.


@dataclass(frozen=True, slots=True)
class QueueTotals:
    """A queue's running totals (its ``stats`` hash, bumped by ``ack.lua``): outcomes
    recorded since the queue was first used. Rates are differences of two readings."""

    finished: int
    failed: int
    retried: int
    requeued: int  # handed back by a stopping worker


def queue_totals(ops: QueueOps) -> Op[QueueTotals]:
    reply = yield Call(("HMGET", ops.keys.stats, "finished", "failed", "retry", "requeue"),
                       ops.keys.queued)
    finished, failed, retried, requeued = (int(v) if v is not None else 0 for v in reply)
    return QueueTotals(finished, failed, retried, requeued)


OLDEST_READ_TRIES = 3


def oldest_queued_age(ops: QueueOps) -> Op[float | None]:
    """Seconds the job at the head of the queue has been ready to run, by Redis's clock
    (since it was enqueued, or became due if it was delayed or retried); None when the
    queue is empty. Two round trips: the head is read again if it vanished in between."""
    for _ in range(OLDEST_READ_TRIES):
        head = yield Call(("LINDEX", ops.keys.queued, 0), ops.keys.queued)
        if head is None:
            return None
        now, (enqueued_at, scheduled_for) = yield Many(
            [("TIME",), ("HMGET", ops.keys.job(head.decode()), "enqueued_at", "scheduled_for")],
            key=ops.keys.queued)
        since = scheduled_for or enqueued_at
        if since is not None:
            return max(0.0, int(now[0]) + int(now[1]) / 1e6 - float(since))
    return None
