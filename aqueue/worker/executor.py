"""Running one claimed job and turning what happened into an acknowledgement.

Nothing here talks to Redis: the worker claims jobs, ``execute`` runs one under its
timeout, and the ``Ack`` it returns is written later in a batch.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from aqueue.errors import FunctionNotAllowed, JobTimeout
from aqueue.events import Event, EventBus
from aqueue.functions import FunctionRegistry
from aqueue.job import JobStatus, RunSpec
from aqueue.serializers import Serializer
from aqueue.worker.groups import QueueGroup

MAX_TRACEBACK = 20_000


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What a running job can know about itself: see ``current_job()``."""

    id: str
    queue: str
    func: str
    attempt: int  # 1 on the first run, 2 on the first retry...
    delivery: int  # claims since the last outcome: above 1, a worker died running it


_current: contextvars.ContextVar[JobInfo | None] = contextvars.ContextVar(
    "aqueue_current_job", default=None)


def current_job() -> JobInfo:
    """The job this code runs in (also from a plain ``def`` job's thread): its id, queue,
    attempt and delivery number, e.g. to build an idempotency key."""
    info = _current.get()
    if info is None:
        raise RuntimeError("current_job() is only available inside a job run by a worker")
    return info


@dataclass(slots=True, eq=False)
class Claimed:
    """A job handed to this worker by the claim script."""

    group: QueueGroup
    position: int  # the queue's place in its group's script keys
    queue_name: str
    id: str
    token: str
    fields: dict[bytes, bytes]
    func: str = ""
    task: asyncio.Task[None] | None = None  # the task running it, set by the worker
    attempt: int = 0  # 1 on the first run; set once the job is read
    max_attempts: int = 1
    started: float = 0.0  # time.monotonic() when its function was called


@dataclass(slots=True)
class Ack:
    """What to write for one job: see ``scripts/ack.lua`` for the outcomes."""

    claimed: Claimed
    outcome: str
    number: float
    fields: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class ExecutionContext:
    registry: FunctionRegistry
    serializer: Serializer
    thread_limiter: anyio.CapacityLimiter
    events: EventBus = field(default_factory=EventBus)
    worker: str = ""


async def execute(claimed: Claimed, ctx: ExecutionContext) -> Ack:
    """Run the job; return its ack. Cancellation (worker shutdown) propagates."""
    try:
        job = RunSpec.from_hash(claimed.fields)
    except ValueError as exc:
        return fail(claimed, None, "InvalidJob", f"job {claimed.id}: {exc}")
    claimed.func = job.func
    try:
        fn = ctx.registry.resolve(job.func)
    except FunctionNotAllowed as exc:
        return fail(claimed, job, "FunctionNotAllowed", str(exc))
    try:
        args = [] if job.args == b"[]" else ctx.serializer.loads(job.args)
        kwargs = {} if job.kwargs == b"{}" else ctx.serializer.loads(job.kwargs)
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError(f"expected a list and a dict, got {type(args).__name__} and "
                            f"{type(kwargs).__name__}")
    except Exception as exc:
        return fail(claimed, job, "InvalidPayload",
                    f"job {claimed.id} ({job.func}): arguments cannot be decoded: {exc}")

    claimed.attempt = job.attempts + 1
    claimed.max_attempts = 1 + (job.retry.max if job.retry is not None else 0)
    claimed.started = time.monotonic()
    if ctx.events:
        ctx.events.emit(Event("job.started", ctx.worker, claimed.queue_name, claimed.id,
                              job.func, claimed.attempt, data={
                                  "timeout": job.timeout,
                                  "traceparent": claimed.fields.get(b"traceparent"),
                                  "tracestate": claimed.fields.get(b"tracestate")}))
    task = claimed.task
    assert task is not None
    deadline = _Deadline(task)
    timer = asyncio.get_running_loop().call_later(job.timeout, deadline.expire)
    token = _current.set(JobInfo(claimed.id, claimed.queue_name, job.func, job.attempts + 1,
                                 job.delivery))
    try:
        if fn.is_async:
            result = await fn.call(*args, **kwargs)
        else:
            call = functools.partial(_in_job_thread, fn.call, *args, **kwargs)
            result = await anyio.to_thread.run_sync(
                call, limiter=ctx.thread_limiter, abandon_on_cancel=True
            )
    except asyncio.CancelledError as exc:
        if deadline.expired and task.uncancel() == 0:  # our deadline, and nothing else
            return fail_or_retry(claimed, job, _timeout_error(job, fn.is_async))
        if task.cancelling():
            raise  # the worker is handing the job back
        return fail_or_retry(claimed, job, exc)  # the job raised CancelledError itself
    except Exception as exc:
        return fail_or_retry(claimed, job, exc)
    finally:
        timer.cancel()
        _current.reset(token)

    try:
        payload = ctx.serializer.dumps(result)
    except Exception as exc:
        return fail(claimed, job, "SerializationError",
                    f"{job.func} returned a {type(result).__name__} that "
                    f"{type(ctx.serializer).__name__} cannot serialize: {exc}")
    return Ack(claimed, "finished", job.result_ttl,
               ["status", JobStatus.FINISHED.value, "result", payload])


_busy_threads = 0
_busy_lock = threading.Lock()


def busy_job_threads() -> int:
    """Threads still running a plain ``def`` job (one past its timeout cannot be stopped)."""
    return _busy_threads


def _in_job_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    global _busy_threads
    with _busy_lock:
        _busy_threads += 1
    try:
        return fn(*args, **kwargs)
    finally:
        with _busy_lock:
            _busy_threads -= 1


class _Deadline:
    """Cancels the job's task when its job_timeout passes (asyncio.timeout's mechanism,
    without its per-call overhead, which showed in profiles of no-op jobs)."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()


def _timeout_error(job: RunSpec, is_async: bool) -> JobTimeout:
    if is_async:
        what = " and was cancelled"
    else:  # Python cannot stop a thread: say so rather than pretend
        what = "; its thread cannot be stopped and may still be running"
    return JobTimeout(f"{job.func} ran longer than its job_timeout of {job.timeout:g} s{what}")


def fail_or_retry(claimed: Claimed, job: RunSpec, exc: BaseException) -> Ack:
    exc_type = _qualified_name(type(exc))
    tb = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK:]
    retry = job.retry
    if retry is not None and job.attempts < retry.max:
        attempts = job.attempts + 1
        return Ack(claimed, "retry", retry.delay(attempts), [
            "status", JobStatus.SCHEDULED.value, "attempts", attempts,
            "exc_type", exc_type, "exc_message", str(exc), "exc_traceback", tb,
        ])
    return fail(claimed, job, exc_type, str(exc), tb)


def fail(claimed: Claimed, job: RunSpec | None, exc_type: str, message: str, tb: str = "") -> Ack:
    """A failure that is not retried: bad input, or retries used up."""
    attempts = (job.attempts + 1) if job is not None else 1
    failure_ttl = job.failure_ttl if job is not None else -1
    return Ack(claimed, "failed", failure_ttl, [
        "status", JobStatus.FAILED.value, "attempts", attempts,
        "exc_type", exc_type, "exc_message", message, "exc_traceback", tb,
    ])


def handback(claimed: Claimed) -> Ack:
    """Give an unfinished job back to the front of its queue (worker shutting down)."""
    return Ack(claimed, "requeue", 0, ["status", JobStatus.QUEUED.value])


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
