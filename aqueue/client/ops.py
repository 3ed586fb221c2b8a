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
    expired: int = 0  # jobs not started before they expired (``expires``)


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
        kept = reply[2] if len(reply) > 2 else []
        for index in range(0, len(kept), 2):  # unique / debounced: the pending job stays
            drafts[int(kept[index]) - 1].existing = kept[index + 1].decode()
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
                           failed=reply[3], finished=reply[4], retrying=reply[5],
                           expired=reply[7] if len(reply) > 7 else 0)

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
