"""The producer's operations on one queue, written once for both clients.

Each operation is a generator that yields the Redis steps it needs (a command, a script,
a batch, a pause) and receives their replies; ``AsyncQueue`` drives it with ``await``,
the sync ``Queue`` with blocking calls. So what an operation sends and how it reads the
answer exists in one place, whichever client runs it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from aqueue.client.encoding import Draft
from aqueue.errors import EnqueueUncertain, JobExistsError, NoSuchJobError
from aqueue.job import JobStatus
from aqueue.observe import hooks
from aqueue.store import keys
from aqueue.store.errors import ConnectionLost
from aqueue.store.keys import QueueKeys

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
    queued: int
    scheduled: int
    started: int
    failed: int
    finished: int
    retrying: int = 0  # jobs scheduled again after a failure (included in ``scheduled``)


class QueueOps:
    """What producers send for one queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys = QueueKeys.for_queue(name)
        self.block = self.keys.script_keys()

    def missing(self, job_id: str, why: str = "it may have expired") -> NoSuchJobError:
        return NoSuchJobError(f"no job {job_id} in queue {self.name!r} ({why})")

    def first_use(self) -> Op[str | None]:
        """Register the queue's name (for discovery across a cluster) and read the eviction
        policy of its server; returns the policy, or None if Redis will not say."""
        replies = yield Many([("SADD", keys.QUEUES, self.name)], key=keys.QUEUES)
        del replies
        try:
            reply = yield Call(("CONFIG", "GET", "maxmemory-policy"), key=self.keys.queued)
        except ResponseError:  # an ACL without CONFIG, or a managed Redis that hides it
            return None
        return reply[1].decode() if reply and len(reply) > 1 else None

    def enqueue(self, drafts: Sequence[Draft]) -> Op[float]:
        """Write the jobs (one script call); returns Redis's time of the write. A reply lost
        on the way is resolved by sending again: the script knows its own jobs."""
        if hooks.enqueue_tracer is not None:  # aqueue.observe.tracing is on
            return (yield from hooks.enqueue_tracer.enqueue(self.name, drafts, self._enqueue))
        return (yield from self._enqueue(drafts))

    def _enqueue(self, drafts: Sequence[Draft]) -> Op[float]:
        argv: list[Any] = [len(drafts), self.name]
        for draft in drafts:
            argv += draft.wire()
        step = Script("enqueue", self.block, argv)
        try:
            reply = yield step
        except ConnectionLost as exc:
            if not exc.sent:
                raise
            reply = yield from self._resend(step, drafts, exc)
        except ResponseError as exc:
            raise _job_exists(exc) from None
        return float(reply[1])

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
                           failed=reply[3], finished=reply[4], retrying=reply[5])

    def cancel(self, job_id: str) -> Op[bool]:
        outcome = yield Script("cancel", self.block, [job_id])
        if outcome is None:
            raise self.missing(job_id)
        return bool(outcome == b"canceled")

    def requeue_failed(self, job_ids: Iterable[str], all: bool) -> Op[int]:
        ids = list(job_ids)
        if not all and not ids:
            return 0
        return int((yield Script("requeue_failed", self.block, ["all"] if all else ["ids", *ids])))

    def empty(self) -> Op[int]:
        total = 0
        while dropped := int((yield Script("empty", self.block, [1000]))):
            total += dropped
        return total

    def queued_ids(self, start: int = 0, end: int = -1) -> Op[list[str]]:
        ids = yield Call(("LRANGE", self.keys.queued, start, end), self.keys.queued)
        return [i.decode() for i in ids]

    def failed_ids(self) -> Op[list[str]]:
        now = yield Call(("TIME",), self.keys.queued)
        ids = yield Call(("ZRANGEBYSCORE", self.keys.failed, f"({now[0].decode()}", "+inf"),
                         self.keys.queued)
        return [i.decode() for i in ids]


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
