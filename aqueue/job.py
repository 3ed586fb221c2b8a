"""The job model: what a job is, and how it reads and writes its Redis hash."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aqueue.retry import Retry

if TYPE_CHECKING:
    from aqueue.client.async_queue import AsyncQueue

R = TypeVar("R")

DEFAULT_JOB_TIMEOUT = 180.0
DEFAULT_RESULT_TTL = 500
KEEP_FOREVER = -1


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_done(self) -> bool:
        return self in _DONE


_DONE = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED})


@dataclass(slots=True)
class Job(Generic[R]):
    """A job, as last read from Redis. ``R`` is the function's return type."""

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
    raw_result: bytes | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    exc_traceback: str | None = None
    queue: AsyncQueue | None = field(default=None, repr=False, compare=False)
    explicit_id: bool = field(default=False, repr=False, compare=False)

    def enqueue_args(self) -> list[bytes | str | float | int]:
        """The values ``scripts/enqueue.lua`` writes, in its order."""
        return [
            self.id, self.scheduled_for or 0, "1" if self.explicit_id else "0", self.func,
            self.args, self.kwargs, self.timeout, self.result_ttl, self.failure_ttl,
            self.enqueued_at, self.retry.to_json() if self.retry else "", self.description,
        ]

    @classmethod
    def from_hash(
        cls, job_id: str, queue_name: str, data: Mapping[bytes, bytes],
        queue: AsyncQueue | None = None,
    ) -> Job[Any]:
        """Build a job from its hash, for inspection: unreadable fields are left at their
        defaults, so that a garbage job that failed can still be looked at. (The worker
        reads jobs strictly, with ``RunSpec``.)"""
        def text(name: str, default: str | None = None) -> str | None:
            value = data.get(name.encode())
            return value.decode("utf-8", "replace") if value is not None else default

        def number(name: str) -> float | None:
            value = data.get(name.encode())
            if value is None:
                return None
            try:
                return float(value)
            except ValueError:
                return None

        status_text = text("status") or JobStatus.QUEUED.value
        try:
            status = JobStatus(status_text)
        except ValueError:
            status = JobStatus.FAILED
        retry_raw = data.get(b"retry")
        try:
            retry = Retry.from_json(retry_raw) if retry_raw else None
        except (ValueError, KeyError, TypeError):
            retry = None
        timeout = number("timeout")
        result_ttl = number("result_ttl")
        failure_ttl = number("failure_ttl")
        return cls(
            id=job_id,
            queue_name=queue_name,
            func=text("func") or "",
            status=status,
            args=data.get(b"args", b"[]"),
            kwargs=data.get(b"kwargs", b"{}"),
            timeout=DEFAULT_JOB_TIMEOUT if timeout is None else timeout,
            result_ttl=DEFAULT_RESULT_TTL if result_ttl is None else int(result_ttl),
            failure_ttl=KEEP_FOREVER if failure_ttl is None else int(failure_ttl),
            retry=retry,
            description=text("description", "") or "",
            enqueued_at=number("enqueued_at") or 0.0,
            scheduled_for=number("scheduled_for"),
            started_at=number("started_at"),
            ended_at=number("ended_at"),
            attempts=int(number("attempts") or 0),
            deliveries=int(number("deliveries") or 0),
            raw_result=data.get(b"result"),
            exc_type=text("exc_type"),
            exc_message=text("exc_message"),
            exc_traceback=text("exc_traceback"),
            queue=queue,
        )

    def _bound(self) -> AsyncQueue:
        if self.queue is None:
            raise RuntimeError("this Job is not attached to a queue; use queue.fetch_job()")
        return self.queue

    async def refresh(self) -> None:
        """Reload every field from Redis."""
        fresh = await self._bound().fetch_job(self.id)
        for name in self.__slots__:
            if name not in ("queue", "explicit_id"):
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
        """Cancel a queued or scheduled job. False if it already started or ended."""
        return await self._bound().cancel(self.id)


MAX_TTL = 10 * 365 * 24 * 3600  # far beyond any sensible TTL, far within Redis's EXPIRE range
MAX_TIMEOUT = 365 * 24 * 3600.0


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
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"job field 'retry' is not a retry policy: {exc}") from None
