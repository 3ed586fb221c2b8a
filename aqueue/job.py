"""The job model: what a job is, and how it reads its Redis hash.

``JobRecord`` is a job as stored; ``Job`` (for ``AsyncQueue``) and ``SyncJob`` (for the
sync ``Queue``) are the same record with the methods that talk to Redis, awaitable or
blocking. ``RunSpec`` is the worker's lean, strict read of the same hash.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aqueue.errors import JobCanceled, JobExpired, JobFailed, JobNotDone
from aqueue.jobcontrol.record import Attempt, Progress, control_fields
from aqueue.options import (
    DEFAULT_JOB_TIMEOUT,
    DEFAULT_RESULT_TTL,
    KEEP_FOREVER,
    MAX_TIMEOUT,
    MAX_TTL,
)
from aqueue.retry import Retry
from aqueue.serializers import Serializer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.sync_queue import Queue

R = TypeVar("R")


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"  # not started before its ``expires``
    DEFERRED = "deferred"  # waiting for the jobs it depends on (``depends_on``)

    @property
    def is_done(self) -> bool:
        return self in _DONE


_DONE = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED,
                   JobStatus.EXPIRED})


@dataclass(slots=True)
class JobRecord:
    """A job, as last read from Redis."""

    id: str
    queue_name: str
    func: str
    status: JobStatus
    args: bytes = b"[]"
    kwargs: bytes = b"{}"
    timeout: float = DEFAULT_JOB_TIMEOUT
    result_ttl: int = DEFAULT_RESULT_TTL
    failure_ttl: int = KEEP_FOREVER
    retry: Retry | None = None
    description: str = ""
    enqueued_at: float = 0.0
    scheduled_for: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    attempts: int = 0
    deliveries: int = 0
    worker: str | None = None
    raw_result: bytes | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    exc_traceback: str | None = None
    # job control (aqueue.jobcontrol): meta=, set_progress(), on_success/on_failure, attempts
    meta: dict[str, Any] = field(default_factory=dict)
    progress: Progress | None = None
    callback_error: str | None = None
    attempt_history: list[Attempt] = field(default_factory=list)

    @classmethod
    def fields_from_hash(cls, job_id: str, queue_name: str,
                         data: Mapping[bytes, bytes]) -> dict[str, Any]:
        """The record's fields from its hash, for inspection: unreadable fields are left at
        their defaults, so that a garbage job that failed can still be looked at."""
        def text(name: str) -> str | None:
            value = data.get(name.encode())
            return value.decode("utf-8", "replace") if value is not None else None

        def number(name: str) -> float | None:
            try:
                return float(data[name.encode()])
            except (KeyError, ValueError):
                return None

        try:
            status = JobStatus(text("status") or JobStatus.QUEUED.value)
        except ValueError:
            status = JobStatus.FAILED
        try:
            retry = Retry.from_json(data[b"retry"]) if data.get(b"retry") else None
        except (ValueError, KeyError, TypeError):
            retry = None
        timeout, result_ttl, failure_ttl = (number(n) for n in
                                            ("timeout", "result_ttl", "failure_ttl"))
        token = text("token")
        return {
            "id": job_id, "queue_name": queue_name, "func": text("func") or "",
            "status": status, "args": data.get(b"args", b"[]"),
            "kwargs": data.get(b"kwargs", b"{}"),
            "timeout": DEFAULT_JOB_TIMEOUT if timeout is None else timeout,
            "result_ttl": DEFAULT_RESULT_TTL if result_ttl is None else int(result_ttl),
            "failure_ttl": KEEP_FOREVER if failure_ttl is None else int(failure_ttl),
            "retry": retry, "description": text("description") or "",
            "enqueued_at": number("enqueued_at") or 0.0,
            "scheduled_for": number("scheduled_for"), "started_at": number("started_at"),
            "ended_at": number("ended_at"), "attempts": int(number("attempts") or 0),
            "deliveries": int(number("deliveries") or 0),
            "worker": token.rsplit(".", 2)[0] if token else None,
            "raw_result": data.get(b"result"), "exc_type": text("exc_type"),
            "exc_message": text("exc_message"), "exc_traceback": text("exc_traceback"),
            **control_fields(data, status.value, token),
        }

    def decode_outcome(self, serializer: Serializer) -> Any:
        """The ended job's result, or the exception its end stands for."""
        if self.status is JobStatus.FAILED:
            raise JobFailed(self.id, self.exc_type or "Error", self.exc_message or "",
                            self.exc_traceback or "")
        if self.status is JobStatus.EXPIRED:
            raise JobExpired(f"job {self.id} expired before it started")
        if self.status is JobStatus.CANCELED:
            reason = f": {self.exc_message}" if self.exc_message else ""
            raise JobCanceled(f"job {self.id} was canceled{reason}")
        if not self.status.is_done:
            raise JobNotDone(f"job {self.id} has not ended: it is {self.status}")
        if self.raw_result is None:
            return None
        return serializer.loads(self.raw_result)


@dataclass(slots=True)
class Job(JobRecord, Generic[R]):
    """A job of an ``AsyncQueue``. ``R`` is the function's return type."""

    queue: AsyncQueue | None = field(default=None, repr=False, compare=False)
    draft: Any = field(default=None, repr=False, compare=False)  # set until enqueued

    def _bound(self) -> AsyncQueue:
        if self.queue is None:
            raise RuntimeError("this Job is not attached to a queue; use queue.fetch_job()")
        return self.queue

    def outcome(self) -> R:
        """Without waiting: the result if the job had ended when it was read; raises
        ``JobFailed`` or ``JobCanceled`` for those ends, ``JobNotDone`` if it had not ended
        (``refresh()`` reads it again)."""
        value: R = self.decode_outcome(self._bound().serializer)
        return value

    async def refresh(self) -> None:
        """Reload every field from Redis."""
        fresh = await self._bound().fetch_job(self.id)
        for name in JobRecord.__slots__:
            setattr(self, name, getattr(fresh, name))

    async def get_status(self) -> JobStatus:
        """The job's current status in Redis."""
        self.status = await self._bound().get_status(self.id)
        return self.status

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the job to end and return its result.

        Raises ``JobFailed`` (with the remote type, message and traceback) if it failed,
        ``JobCanceled`` if it was canceled, ``TimeoutError`` if ``timeout`` passes first.
        """
        value: R = await self._bound().wait_for_result(self.id, timeout)
        return value

    async def cancel(self) -> bool:
        """Cancel the job: queued, scheduled or running (its task is cancelled by its
        worker). False if it had ended."""
        return await self._bound().cancel(self.id)

    def progress_updates(self) -> AsyncIterator[Progress]:
        """The job's progress as it is reported (the last one first, if any), until the
        job ends."""
        return self._bound().progress_updates(self.id)

    async def delete(self) -> bool:
        """Delete the job unless it is running; False if it was not deleted."""
        return bool(await self._bound().delete(self.id))


@dataclass(slots=True)
class SyncJob(JobRecord, Generic[R]):
    """A job of a sync ``Queue``: the same record, with blocking methods."""

    queue: Queue | None = field(default=None, repr=False, compare=False)
    draft: Any = field(default=None, repr=False, compare=False)

    def _bound(self) -> Queue:
        if self.queue is None:
            raise RuntimeError("this job is not attached to a queue; use queue.fetch_job()")
        return self.queue

    def outcome(self) -> R:
        """See ``Job.outcome``."""
        value: R = self.decode_outcome(self._bound().serializer)
        return value

    def progress_updates(self) -> Iterator[Progress]:
        """The job's progress as it is reported (the last one first, if any), until the
        job ends."""
        return self._bound().progress_updates(self.id)

    def refresh(self) -> None:
        fresh = self._bound().fetch_job(self.id)
        for name in JobRecord.__slots__:
            setattr(self, name, getattr(fresh, name))

    def get_status(self) -> JobStatus:
        self.status = self._bound().get_status(self.id)
        return self.status

    def result(self, timeout: float | None = None) -> R:
        """Block until the job ends; see ``Job.result``."""
        value: R = self._bound().wait_for_result(self.id, timeout)
        return value

    def cancel(self) -> bool:
        """See ``Job.cancel``: a running job is canceled too."""
        canceled: bool = self._bound().cancel(self.id)
        return canceled

    def delete(self) -> bool:
        return bool(self._bound().delete(self.id))


def check_limits(timeout: float, result_ttl: int, failure_ttl: int) -> None:
    """Raise ``ValueError`` for a timeout or TTL aqueue cannot honour."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also false for NaN
        raise ValueError(f"job_timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {timeout!r}")
    for name, ttl in (("result_ttl", result_ttl), ("failure_ttl", failure_ttl)):
        if not -1 <= ttl <= MAX_TTL:
            raise ValueError(f"{name} must be -1 (keep), 0 (drop) or up to {MAX_TTL} s, "
                             f"got {ttl!r}")


@dataclass(slots=True)
class RunSpec:
    """What a worker needs from a job's hash to run it: a lean, strict read of the hot path."""

    func: str
    args: bytes
    kwargs: bytes
    timeout: float
    result_ttl: int
    failure_ttl: int
    retry: Retry | None
    attempts: int
    delivery: int  # this claim's number since the job's last outcome (1: no worker died)

    @classmethod
    def from_hash(cls, data: Mapping[bytes, bytes]) -> RunSpec:
        """Raises ``ValueError`` naming the field that is missing or unreadable."""
        invalid = data.get(b"invalid")  # set by claim.lua for a key that was not a hash
        if invalid:
            raise ValueError(invalid.decode("utf-8", "replace"))
        func = data.get(b"func")
        if not func:
            raise ValueError("job hash has no 'func' field (garbage or truncated job data)")
        field_name = ""
        try:
            field_name = "timeout"
            timeout = float(data.get(b"timeout", DEFAULT_JOB_TIMEOUT))
            field_name = "result_ttl"
            result_ttl = int(float(data.get(b"result_ttl", DEFAULT_RESULT_TTL)))
            field_name = "failure_ttl"
            failure_ttl = int(float(data.get(b"failure_ttl", KEEP_FOREVER)))
            field_name = "attempts"
            attempts = int(data.get(b"attempts", 0))
            field_name = "deliveries"  # as read by the claim, before it counted itself
            delivery = int(data.get(b"deliveries", 0)) + 1
        except (ValueError, OverflowError):
            value = data.get(field_name.encode())
            raise ValueError(f"job field {field_name!r} is not a number: {value!r:.60}") from None
        check_limits(timeout, result_ttl, failure_ttl)
        retry_raw = data.get(b"retry")
        return cls(
            func=func.decode("utf-8", "replace"),
            args=data.get(b"args", b"[]"),
            kwargs=data.get(b"kwargs", b"{}"),
            timeout=timeout,
            result_ttl=result_ttl,
            failure_ttl=failure_ttl,
            retry=_parse_retry(retry_raw) if retry_raw else None,
            attempts=attempts,
            delivery=delivery,
        )


@functools.lru_cache(maxsize=256)
def _parse_retry(raw: bytes) -> Retry:
    try:
        return Retry.from_json(raw)
    except (ValueError, KeyError, TypeError):
        raise ValueError("job field 'retry' is not a retry policy") from None
