"""Running one claimed job and turning what happened into an acknowledgement.

Nothing here talks to Redis: the worker claims jobs, ``execute`` runs one under its
timeout, and the ``Ack`` it returns is written later in a batch. Some outcomes are
settled before the job's coroutine ends: its timeout at the deadline (even if the job
ignores the cancellation), and a SystemExit or KeyboardInterrupt raised by a task the job
started (which would otherwise stop the event loop): ``ExecutionContext.settle`` takes
those.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aqueue.errors import FunctionNotAllowed, JobTimeout
from aqueue.events import Event, EventBus
from aqueue.functions import FunctionRegistry
from aqueue.job import JobStatus, RunSpec
from aqueue.jobcontrol.snooze import Snooze
from aqueue.log_text import clip
from aqueue.serializers import Serializer
from aqueue.worker.groups import QueueGroup
from aqueue.worker.job_threads import JobThreads, ThreadsStuck

logger = logging.getLogger("aqueue.worker")

MAX_TRACEBACK = 20_000


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What a running job can know about itself: see ``current_job()``."""

    id: str
    queue: str
    func: str
    attempt: int  # 1 on the first run, 2 on the first retry...
    delivery: int  # claims since the last outcome: above 1, a worker died running it

    # -- job control (aqueue.jobcontrol; docs/job-control.md) --

    def update_meta(self, **values: Any) -> None:
        """Add ``values`` (JSON) to the job's ``meta``; written in order, soon after, and
        before the job's outcome is recorded."""
        from aqueue.jobcontrol.updates import update_meta

        update_meta(values)

    def set_progress(self, value: float, total: float | None = None,
                     message: str | None = None) -> None:
        """Report progress (``fetch_job().progress``, ``Job.progress_updates()``)."""
        from aqueue.jobcontrol.updates import set_progress

        set_progress(value, total, message)

    def snooze(self, seconds: float) -> NoReturn:
        """Stop here and run again ``seconds`` from now: no failure, no retry attempt."""
        raise Snooze(seconds)


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
    settled: bool = False  # its outcome (or handback) went to the acker: see RunningJobs
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
    threads: JobThreads
    settle: Callable[[Claimed, Ack], None]  # record an outcome before the job's task ends
    events: EventBus = field(default_factory=EventBus)
    worker: str = ""


async def execute(claimed: Claimed, ctx: ExecutionContext) -> Ack | None:
    """Run the job; return its ack, or None if its outcome was settled already (at its
    deadline...). Cancellation (worker shutdown) propagates."""
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
    if b"inputs" in claimed.fields:  # a step of a chain or a group's callback
        from aqueue.workflow.inputs import with_inputs

        args = with_inputs(claimed.fields, args, ctx.serializer)

    claimed.attempt = job.attempts + 1
    claimed.max_attempts = 1 + (job.retry.max if job.retry is not None else 0)
    claimed.started = time.monotonic()
    if ctx.events.wants("job.started"):
        ctx.events.emit(Event("job.started", ctx.worker, claimed.queue_name, claimed.id,
                              job.func, claimed.attempt, data={
                                  "timeout": job.timeout,
                                  "traceparent": claimed.fields.get(b"traceparent"),
                                  "tracestate": claimed.fields.get(b"tracestate")}))
    task = claimed.task
    assert task is not None
    run = _Run(claimed, job, fn.is_async, ctx)
    tokens = (_current.set(JobInfo(claimed.id, claimed.queue_name, job.func, job.attempts + 1,
                                   job.delivery)), _run.set(run))
    try:
        if fn.is_async:
            run.timer = asyncio.get_running_loop().call_later(job.timeout, run.expire)
            result = await fn.call(*args, **kwargs)
        else:
            call = functools.partial(_in_job_thread, fn.call, *args, **kwargs)
            result = await ctx.threads.run(claimed, call, started=run.start)
    except ThreadsStuck:
        return handback(claimed)  # another worker may have a thread for it
    except asyncio.CancelledError as exc:
        if run.settled:
            return None  # its deadline passed, or a task it started raised SystemExit
        if task.cancelling():
            raise  # the worker is handing the job back
        return fail_or_retry(claimed, job, exc)  # the job raised CancelledError itself
    except GeneratorExit:
        raise  # this coroutine is being closed
    except BaseException as exc:  # SystemExit, KeyboardInterrupt... too: they are the job's
        return None if run.settled else fail_or_retry(claimed, job, exc)
    finally:
        if run.timer is not None:
            run.timer.cancel()
        _run.reset(tokens[1])
        _current.reset(tokens[0])
    if run.settled:
        return None  # it returned after its deadline: the timeout stands
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


class _Run:
    """One run of a claimed job: its deadline (a loop timer: asyncio.timeout's mechanism
    without its per-call overhead, which showed in profiles of no-op jobs), and the
    outcomes settled before its coroutine ends."""

    __slots__ = ("claimed", "ctx", "is_async", "job", "settled", "timer")

    def __init__(self, claimed: Claimed, job: RunSpec, is_async: bool,
                 ctx: ExecutionContext) -> None:
        self.claimed = claimed
        self.job = job
        self.is_async = is_async
        self.ctx = ctx
        self.settled = False
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """The job starts running now: its timeout counts from here."""
        self.timer = asyncio.get_running_loop().call_later(self.job.timeout, self.expire)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def expire(self) -> None:
        """The deadline: record the timeout now, then cancel the job. A job that ignores
        the cancellation is abandoned; whatever it does later is not recorded."""
        self._settle(fail_or_retry(self.claimed, self.job,
                                   _timeout_error(self.job, self.is_async)))
        if not self.is_async:
            self.ctx.threads.mark_stuck(self.claimed)

    def escaped(self, exc: BaseException) -> None:
        """A task the job started raised ``exc`` (SystemExit or KeyboardInterrupt)."""
        name = type(exc).__name__
        if self.settled:
            logger.warning("job %s (%s): a task it started raised %s after the job had ended; "
                           "ignored", clip(self.claimed.id), clip(self.job.func), name)
            return
        logger.warning("job %s (%s): a task it started raised %s; the job fails (a job "
                       "cannot stop the worker)", clip(self.claimed.id), clip(self.job.func),
                       name)
        self._settle(fail_or_retry(self.claimed, self.job, exc))

    def _settle(self, ack: Ack) -> None:
        if self.settled:
            return
        self.settled = True
        self.stop()
        self.ctx.settle(self.claimed, ack)
        task = self.claimed.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()


_run: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("aqueue_run", default=None)


def task_factory(previous: Any = None) -> Callable[..., asyncio.Task[Any]]:
    """A loop task factory (chaining ``previous``) under which a SystemExit or
    KeyboardInterrupt raised by a task that a job started fails that job, instead of
    stopping the event loop (asyncio lets those two out of a task)."""

    def create(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
               **kwargs: Any) -> asyncio.Task[Any]:
        context = kwargs.get("context")
        run = context.get(_run) if context is not None else _run.get()
        if run is not None:
            coro = _guarded(coro, run)
        if previous is not None:
            task: asyncio.Task[Any] = previous(loop, coro, **kwargs)
            return task
        return asyncio.Task(coro, loop=loop, **kwargs)

    return create


async def _guarded(coro: Coroutine[Any, Any, Any], run: _Run) -> Any:
    try:
        return await coro
    except (SystemExit, KeyboardInterrupt) as exc:
        run.escaped(exc)
        raise asyncio.CancelledError from exc  # the task ends as stopped, quietly


def _timeout_error(job: RunSpec, is_async: bool) -> JobTimeout:
    if is_async:
        what = " and was cancelled"
    else:  # Python cannot stop a thread: say so rather than pretend
        what = "; its thread cannot be stopped and may still be running"
    return JobTimeout(f"{job.func} ran longer than its job_timeout of {job.timeout:g} s{what}")


def fail_or_retry(claimed: Claimed, job: RunSpec, exc: BaseException) -> Ack:
    if type(exc) is Snooze:  # not a failure: back to the schedule (scripts/ack.lua)
        return Ack(claimed, "snooze", exc.seconds, ["status", JobStatus.SCHEDULED.value])
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
