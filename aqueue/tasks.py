"""Typed tasks: ``.enqueue(*args, **kwargs)`` checked by mypy against the function.

``queue.enqueue(fn, *args, **kwargs)`` cannot be checked, since options share the call.
A task keeps the two apart: the function's own arguments go to ``enqueue``, options to
``options()``::

    @task(job_timeout=60)
    async def send_email(to: str, subject: str = "Hello") -> str: ...

    job = await send_email.on(queue).enqueue("a@b.c", subject="Hi")       # Job[str]
    await send_email.on(queue).options(retry=Retry(3)).enqueue("a@b.c")
    send_email.on(sync_queue).enqueue("a@b.c")                            # SyncJob[str]
    await queue.task(other_function).enqueue(1, 2)

A decorated function stays a plain function for callers and for workers (``send_email(...)``
calls it; a worker allowed its module runs it).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, Unpack, overload

from aqueue.options import JobOptions, QueueDefaults, resolve

if TYPE_CHECKING:
    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.sync_queue import Queue
    from aqueue.job import Job, SyncJob

P = ParamSpec("P")
R = TypeVar("R")
_CHECK_ONLY = QueueDefaults()  # options are checked on their own, queue defaults aside


class Task(Generic[P, R]):
    """A function with default enqueue options; ``R`` is what a worker's run returns (the
    awaited value for an ``async def``)."""

    _is_aqueue_task = True

    def __init__(self, fn: Callable[P, Any], options: JobOptions) -> None:
        from aqueue.functions import function_name

        function_name(fn)  # refuse lambdas, bound methods, __main__ at definition
        resolve(options, _CHECK_ONLY)
        self.fn = fn
        self.defaults = options
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        return self.fn(*args, **kwargs)

    @overload
    def on(self, queue: AsyncQueue) -> AsyncTask[P, R]: ...
    @overload
    def on(self, queue: Queue) -> SyncTask[P, R]: ...

    def on(self, queue: AsyncQueue | Queue) -> AsyncTask[P, R] | SyncTask[P, R]:
        """This task on ``queue``: enqueue with ``await`` (AsyncQueue) or not (Queue)."""
        from aqueue.client.async_queue import AsyncQueue

        if isinstance(queue, AsyncQueue):
            return AsyncTask(self, queue, dict(self.defaults))  # type: ignore[arg-type]
        return SyncTask(self, queue, dict(self.defaults))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<task {self.fn.__module__}.{self.fn.__qualname__}>"


class _Bound(Generic[P, R]):
    def __init__(self, task: Task[P, R], queue: Any, options: JobOptions) -> None:
        self.task = task
        self.queue = queue
        self.opts = options

    def _with(self, options: JobOptions) -> dict[str, Any]:
        merged: dict[str, Any] = {**self.opts, **options}
        resolve(merged, _CHECK_ONLY)  # a bad option fails here, not at enqueue
        return merged


class AsyncTask(_Bound[P, R]):
    """A task bound to an ``AsyncQueue``."""

    def options(self, **options: Unpack[JobOptions]) -> AsyncTask[P, R]:
        """The same task with these options (on top of its defaults)."""
        return AsyncTask(self.task, self.queue, self._with(options))  # type: ignore[arg-type]

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        job: Job[R] = await self.queue.enqueue_call(self.task.fn, args, kwargs, **self.opts)
        return job

    async def enqueue_in(self, delay: timedelta | float, *args: P.args,
                         **kwargs: P.kwargs) -> Job[R]:
        job: Job[R] = await self.queue._send(self.queue.encoder.draft(
            self.task.fn, args, kwargs, dict(self.opts), due_mode="in", due=_seconds(delay)))
        return job

    async def enqueue_at(self, when: datetime | float, *args: P.args,
                         **kwargs: P.kwargs) -> Job[R]:
        from aqueue.client.translate import due_at

        job: Job[R] = await self.queue._send(self.queue.encoder.draft(
            self.task.fn, args, kwargs, dict(self.opts), due_mode="at", due=due_at(when)))
        return job

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """A job for ``queue.enqueue_many``."""
        job: Job[R] = self.queue.prepare_call(self.task.fn, args, kwargs, **self.opts)
        return job


class SyncTask(_Bound[P, R]):
    """A task bound to a sync ``Queue``."""

    def options(self, **options: Unpack[JobOptions]) -> SyncTask[P, R]:
        return SyncTask(self.task, self.queue, self._with(options))  # type: ignore[arg-type]

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> SyncJob[R]:
        job: SyncJob[R] = self.queue.enqueue_call(self.task.fn, args, kwargs, **self.opts)
        return job

    def enqueue_in(self, delay: timedelta | float, *args: P.args,
                   **kwargs: P.kwargs) -> SyncJob[R]:
        job: SyncJob[R] = self.queue._send(self.queue.encoder.draft(
            self.task.fn, args, kwargs, dict(self.opts), due_mode="in", due=_seconds(delay)))
        return job

    def enqueue_at(self, when: datetime | float, *args: P.args,
                   **kwargs: P.kwargs) -> SyncJob[R]:
        from aqueue.client.translate import due_at

        job: SyncJob[R] = self.queue._send(self.queue.encoder.draft(
            self.task.fn, args, kwargs, dict(self.opts), due_mode="at", due=due_at(when)))
        return job

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> SyncJob[R]:
        job: SyncJob[R] = self.queue.prepare_call(self.task.fn, args, kwargs, **self.opts)
        return job


@overload
def task(fn: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...
@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(**options: Unpack[JobOptions]) -> _Decorator: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Unpack[JobOptions]) -> Any:
    """``@task`` or ``@task(job_timeout=60, retry=Retry(3))``: a typed task (see module)."""
    if fn is not None:
        return Task(fn, options)
    return _Decorator(options)


class _Decorator:
    def __init__(self, options: JobOptions) -> None:
        self.options = options

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Task[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Task[P, R]: ...

    def __call__(self, fn: Callable[..., Any]) -> Task[Any, Any]:
        return Task(fn, self.options)


def _seconds(delay: timedelta | float) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)

