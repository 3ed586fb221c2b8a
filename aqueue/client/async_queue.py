"""The producer side: ``AsyncQueue`` enqueues jobs and inspects them."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar, cast, overload

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue.errors import (
    ConnectionFailed,
    JobCanceled,
    JobExistsError,
    JobFailed,
    NoSuchJobError,
    SerializationError,
)
from aqueue.functions import function_name
from aqueue.job import (
    DEFAULT_JOB_TIMEOUT,
    DEFAULT_RESULT_TTL,
    KEEP_FOREVER,
    Job,
    JobStatus,
    check_limits,
)
from aqueue.retry import Retry
from aqueue.serializers import Serializer, get_serializer
from aqueue.store.connection import as_text, connect, describe, max_block
from aqueue.store.keys import QueueKeys
from aqueue.store.scripts import Scripts

R = TypeVar("R")
# What a job may name: a function object or "module.function". Overloads below map an
# `async def f() -> R` and a `def f() -> R` both to Job[R].
FunctionRef = Callable[..., Any] | str


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _reachable(method: F) -> F:
    """Turn "Redis is unreachable" into one ``ConnectionFailed`` naming the queue."""

    @functools.wraps(method)
    async def wrapper(self: AsyncQueue, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, ConnectionError) as exc:
            action = "enqueue to" if method.__name__ == "_write" else f"{method.__name__} on"
            raise ConnectionFailed(
                f"cannot {action} {self.name!r}: Redis at {describe(self.redis)} is "
                f"unreachable: {exc}") from None

    return cast(F, wrapper)


@dataclass(frozen=True, slots=True)
class QueueCounts:
    queued: int
    scheduled: int
    started: int
    failed: int
    finished: int


class AsyncQueue:
    """A named queue in Redis: enqueue jobs, look them up, requeue failures.

    ``AsyncQueue("email", url="redis://127.0.0.1:6379/0")`` or
    ``AsyncQueue("email", connection=redis.asyncio.Redis(...))``.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        connection: Redis | None = None,
        serializer: str | Serializer | None = None,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
        result_ttl: int = DEFAULT_RESULT_TTL,
        failure_ttl: int = KEEP_FOREVER,
    ) -> None:
        self.name = name
        self.keys = QueueKeys.for_queue(name)
        self._owns_connection = connection is None
        self.redis: Redis = connection if connection is not None else connect(url)
        self.serializer = get_serializer(serializer)
        self.job_timeout = job_timeout
        self.result_ttl = result_ttl
        self.failure_ttl = failure_ttl
        self._scripts = Scripts(self.redis)
        self._script_keys = self.keys.script_keys()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close this queue's connections (the redis-py client only if the queue opened it)."""
        await self._scripts.close()
        if self._owns_connection:
            await self.redis.aclose()

    def __repr__(self) -> str:
        return f"AsyncQueue({self.name!r})"

    # -- building jobs ---------------------------------------------------------------

    @overload
    def prepare(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> Job[R]: ...
    @overload
    def prepare(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> Job[R]: ...
    @overload
    def prepare(self, fn: str, *args: Any, **kwargs: Any) -> Job[Any]: ...

    def prepare(
        self,
        fn: FunctionRef,
        *args: Any,
        job_timeout: float | None = None,
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        retry: Retry | None = None,
        job_id: str | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> Job[Any]:
        """A job ready for ``enqueue_many``, with arguments already serialized."""
        return self.prepare_call(
            fn, args, kwargs, job_timeout=job_timeout, result_ttl=result_ttl,
            failure_ttl=failure_ttl, retry=retry, job_id=job_id, description=description,
        )

    def prepare_call(
        self,
        fn: FunctionRef,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        job_timeout: float | None = None,
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        retry: Retry | None = None,
        job_id: str | None = None,
        description: str | None = None,
        scheduled_for: float | None = None,
    ) -> Job[Any]:
        """Like ``prepare``, with arguments given as a sequence and a dict, so that a
        function's own parameters may be called ``job_timeout``, ``retry``..."""
        name = function_name(fn)
        kwargs = kwargs or {}
        if scheduled_for is not None and scheduled_for <= 0:
            scheduled_for = None  # the script reads a due time of 0 as "ready now"
        timeout = self.job_timeout if job_timeout is None else float(job_timeout)
        result_ttl = self.result_ttl if result_ttl is None else int(result_ttl)
        failure_ttl = self.failure_ttl if failure_ttl is None else int(failure_ttl)
        check_limits(timeout, result_ttl, failure_ttl)
        if job_id is not None and (not job_id or any(c in job_id for c in " \t\n{}")):
            raise ValueError(f"invalid job_id {job_id!r}")
        job: Job[Any] = Job(
            id=job_id or uuid.uuid4().hex,
            queue_name=self.name,
            func=name,
            status=JobStatus.QUEUED if scheduled_for is None else JobStatus.SCHEDULED,
            args=self._encode_args(name, args, kwargs, "args"),
            kwargs=self._encode_args(name, args, kwargs, "kwargs"),
            timeout=timeout,
            result_ttl=result_ttl,
            failure_ttl=failure_ttl,
            retry=retry,
            description=description or "",
            enqueued_at=time.time(),
            scheduled_for=scheduled_for,
            queue=self,
            explicit_id=job_id is not None,
        )
        return job

    def _encode_args(
        self, func: str, args: Sequence[Any], kwargs: dict[str, Any], which: str
    ) -> bytes:
        value: Any = list(args) if which == "args" else kwargs
        try:
            return _as_bytes(self.serializer.dumps(value))
        except Exception as exc:
            items = enumerate(args) if which == "args" else kwargs.items()
            for key, item in items:
                try:
                    self.serializer.dumps(item)
                except Exception as item_exc:
                    what = f"argument {key}" if which == "args" else f"keyword argument {key!r}"
                    raise SerializationError(
                        f"{what} of {func} ({type(item).__name__}) cannot be serialized by "
                        f"{type(self.serializer).__name__}: {item_exc}"
                    ) from item_exc
            raise SerializationError(f"the {which} of {func} cannot be serialized: {exc}") from exc

    # -- enqueueing --------------------------------------------------------------------

    @overload
    async def enqueue(
        self, fn: Callable[..., Awaitable[R]], *args: Any, job_timeout: float | None = None,
        result_ttl: int | None = None, failure_ttl: int | None = None,
        retry: Retry | None = None, job_id: str | None = None, description: str | None = None,
        **kwargs: Any,
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, fn: Callable[..., R], *args: Any, job_timeout: float | None = None,
        result_ttl: int | None = None, failure_ttl: int | None = None,
        retry: Retry | None = None, job_id: str | None = None, description: str | None = None,
        **kwargs: Any,
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, fn: str, *args: Any, job_timeout: float | None = None,
        result_ttl: int | None = None, failure_ttl: int | None = None,
        retry: Retry | None = None, job_id: str | None = None, description: str | None = None,
        **kwargs: Any,
    ) -> Job[Any]: ...

    async def enqueue(
        self,
        fn: FunctionRef,
        *args: Any,
        job_timeout: float | None = None,
        result_ttl: int | None = None,
        failure_ttl: int | None = None,
        retry: Retry | None = None,
        job_id: str | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> Job[Any]:
        """Enqueue ``fn(*args, **kwargs)``; atomic, one round trip."""
        job = self.prepare_call(
            fn, args, kwargs, job_timeout=job_timeout, result_ttl=result_ttl,
            failure_ttl=failure_ttl, retry=retry, job_id=job_id, description=description,
        )
        await self._write([job])
        return job

    async def enqueue_call(
        self,
        fn: FunctionRef,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Job[Any]:
        """``enqueue`` with the function's arguments passed as ``args=`` and ``kwargs=``."""
        job = self.prepare_call(fn, args, kwargs, **options)
        await self._write([job])
        return job

    async def enqueue_at(
        self, when: datetime | float, fn: FunctionRef, *args: Any, **kwargs: Any
    ) -> Job[Any]:
        """Enqueue to run at ``when`` (an aware or UTC-naive datetime, or a Unix time)."""
        options = {k: kwargs.pop(k) for k in _OPTION_NAMES if k in kwargs}
        job = self.prepare_call(fn, args, kwargs, scheduled_for=_timestamp(when), **options)
        await self._write([job])
        return job

    async def enqueue_in(
        self, delay: timedelta | float, fn: FunctionRef, *args: Any, **kwargs: Any
    ) -> Job[Any]:
        """Enqueue to run after ``delay`` (a timedelta or seconds)."""
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return await self.enqueue_at(time.time() + seconds, fn, *args, **kwargs)

    async def enqueue_many(
        self, jobs: Iterable[Job[Any]], batch_size: int = 1000
    ) -> list[Job[Any]]:
        """Enqueue prepared jobs (``queue.prepare(...)``), one round trip per batch.

        Each batch is atomic. A job with an explicit ``job_id`` that is still pending
        fails its whole batch with ``JobExistsError``.
        """
        all_jobs = list(jobs)
        for job in all_jobs:
            if job.queue_name != self.name:
                raise ValueError(f"job {job.id} was prepared for queue {job.queue_name!r}")
        for start in range(0, len(all_jobs), batch_size):
            await self._write(all_jobs[start:start + batch_size])
        return all_jobs

    @_reachable
    async def _write(self, jobs: list[Job[Any]]) -> None:
        argv: list[Any] = [len(jobs), self.name]
        for job in jobs:
            argv += job.enqueue_args()
        try:
            await self._scripts.run("enqueue", self._script_keys, argv)
        except ResponseError as exc:
            if str(exc).startswith("JOBEXISTS"):
                raise JobExistsError(str(exc).removeprefix("JOBEXISTS ")) from None
            raise

    # -- inspecting --------------------------------------------------------------------

    @_reachable
    async def fetch_job(self, job_id: str) -> Job[Any]:
        """The job as stored now; ``NoSuchJobError`` if it does not exist (or expired)."""
        key = self.keys.job(job_id)
        data: dict[bytes, bytes] = await self.redis.hgetall(key)  # type: ignore[assignment]
        if not data:
            raise NoSuchJobError(f"no job {job_id} in queue {self.name!r} (it may have expired)")
        return Job.from_hash(job_id, self.name, data, queue=self)

    @_reachable
    async def get_status(self, job_id: str) -> JobStatus:
        status = await self.redis.hget(self.keys.job(job_id), "status")
        if status is None:
            raise NoSuchJobError(f"no job {job_id} in queue {self.name!r} (it may have expired)")
        return JobStatus(as_text(status))

    @_reachable
    async def wait_for_result(self, job_id: str, timeout: float | None = None) -> Any:
        """Block (no polling) until the job ends; return its result or raise its failure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = await self._scripts.run("watch", self._script_keys, [job_id])
        if reply is None:
            raise NoSuchJobError(f"no job {job_id} in queue {self.name!r} (it may have expired)")
        done_key = self.keys.done(job_id)
        longest = max_block(self.redis, 10.0)
        while not isinstance(reply, list):  # a status: the job has not ended yet
            remaining = longest if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
            # Rotating the nudge (pop and push back) lets every waiter on the job wake.
            block = min(remaining, longest)
            await self.redis.blmove(done_key, done_key, block, "LEFT", "RIGHT")  # type: ignore[arg-type]
            reply = await self._scripts.run("watch", self._script_keys, [job_id])
            if reply is None:
                raise NoSuchJobError(
                    f"job {job_id} no longer exists: it ended and was not kept (result_ttl=0 "
                    "or failure_ttl=0), expired, or was dropped by empty()")
        data = dict(zip(reply[::2], reply[1::2], strict=True))
        return self.decode_outcome(Job.from_hash(job_id, self.name, data, queue=self))

    def decode_outcome(self, job: Job[Any]) -> Any:
        """The result of an ended job, or the exception its end stands for."""
        if job.status is JobStatus.FAILED:
            raise JobFailed(job.id, job.exc_type or "Error", job.exc_message or "",
                            job.exc_traceback or "")
        if job.status is JobStatus.CANCELED:
            raise JobCanceled(f"job {job.id} was canceled")
        if job.raw_result is None:
            return None
        return self.serializer.loads(job.raw_result)

    @_reachable
    async def cancel(self, job_id: str) -> bool:
        """Cancel a queued or scheduled job; False if it had started or ended already."""
        outcome = await self._scripts.run("cancel", self._script_keys, [job_id, time.time()])
        if outcome is None:
            raise NoSuchJobError(f"no job {job_id} in queue {self.name!r}")
        return bool(outcome == b"canceled")

    @_reachable
    async def counts(self) -> QueueCounts:
        """How many jobs are queued, scheduled, started, failed and finished."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.keys.queued)
            pipe.zcard(self.keys.scheduled)
            pipe.zcard(self.keys.started)
            pipe.zcount(self.keys.failed, time.time(), "+inf")
            pipe.hget(self.keys.stats, "finished")
            queued, scheduled, started, failed, finished = await pipe.execute()
        return QueueCounts(queued, scheduled, started, failed, int(finished or 0))

    @_reachable
    async def queued_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        return [as_text(i) for i in await self.redis.lrange(self.keys.queued, start, end)]

    @_reachable
    async def failed_job_ids(self) -> list[str]:
        ids = await self.redis.zrangebyscore(self.keys.failed, time.time(), "+inf")
        return [as_text(i) for i in ids]

    # -- operating ---------------------------------------------------------------------

    @_reachable
    async def requeue_failed(self, *job_ids: str, all: bool = False) -> int:
        """Send failed jobs (the given ids, or ``all=True``) back to the queue."""
        if not all and not job_ids:
            return 0
        args = ["all"] if all else ["ids", *job_ids]
        return int(await self._scripts.run("requeue_failed", self._script_keys, args))

    @_reachable
    async def empty(self) -> int:
        """Drop every queued job; returns how many were dropped."""
        total = 0
        while dropped := int(await self._scripts.run("empty", self._script_keys, [1000])):
            total += dropped
        return total


_OPTION_NAMES = ("job_timeout", "result_ttl", "failure_ttl", "retry", "job_id", "description")


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _timestamp(when: datetime | float) -> float:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return float(when)
