"""``AsyncQueue``: enqueue jobs from asyncio code, look them up, wait for their results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, Unpack, overload

from redis.exceptions import RedisError

from aqueue.client.async_operate import AsyncOperate
from aqueue.client.base import DEFAULT_MAX_PAYLOAD, QueueBase
from aqueue.client.encoding import Draft, FunctionRef
from aqueue.client.listener import ResultListener
from aqueue.client.ops import Call, Many, Op, QueueCounts, QueueMemory, Script, Step
from aqueue.client.translate import translate
from aqueue.errors import NoSuchJobError
from aqueue.job import Job, JobRecord, JobStatus
from aqueue.jobcontrol.record import Progress
from aqueue.options import DEFAULT_JOB_TIMEOUT, DEFAULT_RESULT_TTL, KEEP_FOREVER, JobOptions
from aqueue.serializers import Serializer
from aqueue.store.server import warn_if_evicting
from aqueue.store.store import Store
from aqueue.tasks import AsyncTask, Task
from aqueue.workflow.compose import Chain, Group, Signature
from aqueue.workflow.handle import Workflow

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class AsyncQueue(AsyncOperate, QueueBase):
    """A named queue in Redis: enqueue jobs, look them up, requeue failures.

    ``AsyncQueue("email", url="redis://127.0.0.1:6379/0")`` (also ``rediss://``,
    ``unix://``, ``redis+sentinel://``, ``redis+cluster://``), or
    ``AsyncQueue("email", connection=redis.asyncio.Redis(...))`` to use the server a
    redis-py client points at. Any number of coroutines may share one queue: its commands
    go over one pipelined connection, and all its result waiters share one subscription.
    ``store=`` shares the connections of another queue (``other.store``) or ``AsyncAdmin``.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        connection: Any = None,
        serializer: str | Serializer | None = None,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
        result_ttl: int = DEFAULT_RESULT_TTL,
        failure_ttl: int = KEEP_FOREVER,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        store: Store | None = None,
    ) -> None:
        super().__init__(name, serializer=serializer, job_timeout=job_timeout,
                         result_ttl=result_ttl, failure_ttl=failure_ttl, max_payload=max_payload)
        self._owns_store = store is None
        self.store = store or Store.open(url, connection, name=f"aqueue:producer:{name}")
        self.listener = ResultListener(self.store)
        self._first_use: asyncio.Future[None] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close this queue's connections; using the queue afterwards is an error."""
        self._closed = True
        self.listener.close()
        if self._owns_store:
            await self.store.close()

    # -- running operations ------------------------------------------------------------

    async def _run(self, op: Op[T], action: str, *, write: bool = False) -> T:
        if self._closed:
            op.close()
            self._check_open()
        if write and (self._first_use is None or not self._first_use.done()):
            await self._once()
        try:
            return await self._drive(op)
        except (RedisError, OSError) as exc:
            raise translate(exc, action, self.name, self.store) from None

    async def _drive(self, op: Op[T]) -> T:
        """Run an operation's steps; Redis errors go into it, for it to handle or raise."""
        try:
            step = next(op)
            while True:
                try:
                    reply = await self._execute(step)
                except (RedisError, OSError) as exc:
                    step = op.throw(exc)
                else:
                    step = op.send(reply)
        except StopIteration as stop:
            value: T = stop.value
            return value

    async def _execute(self, step: Step) -> Any:
        if isinstance(step, Script):
            return await self.store.script(step.name, step.keys, step.args, before=step.before)
        if isinstance(step, Call):
            return await self.store.call(*step.command, key=step.key)
        if isinstance(step, Many):
            return await self.store.call_many(step.commands, key=step.key)
        await asyncio.sleep(step.seconds)
        return None

    async def _once(self) -> None:
        """On the first write: register the queue for discovery, warn if Redis may evict
        jobs. A Redis error here does not stop the write (it is tried again next time)."""
        if self._first_use is None or self._first_use.get_loop() is not asyncio.get_running_loop():
            self._first_use = asyncio.ensure_future(self._first_use_check())
        try:
            await asyncio.shield(self._first_use)
        except (RedisError, OSError):
            self._first_use = None

    async def _first_use_check(self) -> None:
        policy = await self._drive(self.ops.first_use())
        warn_if_evicting(policy, self.store.describe(), f"queue {self.name!r}")

    # -- building jobs ---------------------------------------------------------------

    @overload
    def prepare(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> Job[R]: ...
    @overload
    def prepare(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> Job[R]: ...
    @overload
    def prepare(self, fn: str, *args: Any, **kwargs: Any) -> Job[Any]: ...

    def prepare(self, fn: FunctionRef, *args: Any, **kwargs: Any) -> Job[Any]:
        """A job for ``enqueue_many``, checked and serialized; options (``job_id``,
        ``job_timeout``... see ``aqueue.JobOptions``) are picked out of the keyword
        arguments."""
        return self._job(self._draft(fn, args, kwargs))

    def prepare_call(self, fn: FunctionRef, args: Sequence[Any] = (),
                     kwargs: dict[str, Any] | None = None, **options: Any) -> Job[Any]:
        """Like ``prepare``, with the function's arguments given apart from the options,
        so that its own parameters may be called ``job_timeout``, ``retry``..."""
        return self._job(self._draft_call(fn, args, kwargs, options))

    def _job(self, draft: Draft, now: float | None = None) -> Job[Any]:
        job: Job[Any] = Job(**draft.record(self.name, now or time.time()), queue=self)
        job.draft = draft
        return job

    @overload
    def task(self, fn: Callable[P, Awaitable[R]], **options: Unpack[JobOptions]
             ) -> AsyncTask[P, R]: ...
    @overload
    def task(self, fn: Callable[P, R], **options: Unpack[JobOptions]) -> AsyncTask[P, R]: ...

    def task(self, fn: Callable[..., Any], **options: Unpack[JobOptions]) -> AsyncTask[Any, Any]:
        """``fn`` as a typed task on this queue: ``.enqueue(...)`` is checked against its
        signature, options go to ``task(fn, job_timeout=...)`` or ``.options(...)``."""
        base = fn if isinstance(fn, Task) else Task(fn, {})
        return base.on(self).options(**options)

    # -- enqueueing --------------------------------------------------------------------

    @overload
    async def enqueue(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any
                      ) -> Job[R]: ...
    @overload
    async def enqueue(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, fn: str, *args: Any, **kwargs: Any) -> Job[Any]: ...

    async def enqueue(self, fn: FunctionRef, *args: Any, **kwargs: Any) -> Job[Any]:
        """Enqueue ``fn(*args, **kwargs)``; atomic, one round trip. Keyword arguments named
        like an option (``aqueue.JobOptions``) are options, the rest go to ``fn``."""
        return await self._send(self._draft(fn, args, kwargs))

    async def enqueue_call(self, fn: FunctionRef, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None, **options: Any) -> Job[Any]:
        """``enqueue`` with the function's arguments passed as ``args=`` and ``kwargs=``."""
        return await self._send(self._draft_call(fn, args, kwargs, options))

    async def enqueue_at(self, when: datetime | float, fn: FunctionRef, *args: Any,
                         **kwargs: Any) -> Job[Any]:
        """Enqueue to run at ``when``: an aware datetime, or a Unix time."""
        return await self._send(self._draft_at(when, fn, args, kwargs))

    async def enqueue_in(self, delay: timedelta | float, fn: FunctionRef, *args: Any,
                         **kwargs: Any) -> Job[Any]:
        """Enqueue to run after ``delay`` (a timedelta or seconds), by Redis's clock."""
        return await self._send(self._draft_in(delay, fn, args, kwargs))

    async def _send(self, draft: Draft) -> Job[Any]:
        now = await self._run(self.ops.enqueue([draft]), "enqueue to", write=True)
        if draft.existing is not None:  # unique or debounced: the pending job is the answer
            return await self._kept(draft, now)
        return self._job(draft, now)

    async def enqueue_many(self, jobs: Iterable[Job[Any]], batch_size: int = 1000
                           ) -> list[Job[Any]]:
        """Enqueue prepared jobs (``queue.prepare(...)``), one round trip per batch.

        Each batch is atomic. A job with an explicit ``job_id`` that is still pending
        fails its whole batch with ``JobExistsError``.
        """
        all_jobs = list(jobs)
        drafts = self._drafts_of(all_jobs)
        for start in range(0, len(drafts), batch_size):
            now = await self._run(self.ops.enqueue(drafts[start:start + batch_size]),
                                  "enqueue to", write=True)
            for job in all_jobs[start:start + batch_size]:
                job.enqueued_at = now
                if job.draft.existing is not None:  # unique or debounced: kept instead
                    job.id = job.draft.existing
        return all_jobs

    # -- workflows (aqueue.workflow, docs/workflows.md) -----------------------------

    async def enqueue_workflow(self, flow: Signature[R] | Chain[R] | Group[R]
                               ) -> Workflow[R]:
        """Enqueue a ``chain(...)``, ``group(...)`` or ``step(...)``; its steps go to
        their own queues (``step(...).on(name)``), this one by default."""
        from aqueue.workflow import handle

        jobs, exits, single = handle.plan(self, flow)
        await self._run(handle.enqueue_plan(jobs), "enqueue a workflow to", write=True)
        return handle.Workflow(self, [(q, d.id) for q, d in jobs], exits, single)

    async def gather(self, jobs: Iterable[Any], timeout: float | None = None,
                     return_exceptions: bool = False) -> list[Any]:
        """The results of many jobs (``Job``s of any queue, or ids of this one), in order,
        awaited together over this queue's one result subscription per server."""
        from aqueue.workflow.handle import gather

        return await gather(self, jobs, timeout, return_exceptions)

    # -- inspecting --------------------------------------------------------------------

    async def fetch_job(self, job_id: str) -> Job[Any]:
        """The job as stored now; ``NoSuchJobError`` if it does not exist (or expired)."""
        return Job(**await self._run(self.ops.fetch(job_id), "fetch_job on"), queue=self)

    async def get_status(self, job_id: str) -> JobStatus:
        return await self._run(self.ops.status(job_id), "get_status on")

    def progress_updates(self, job_id: str) -> AsyncIterator[Progress]:
        """The job's progress as its worker records it (the last one first), until the job
        ends; through this queue's result listener (no connection of its own)."""
        from aqueue.client.progress import follow_progress

        return follow_progress(self, job_id)

    async def wait_for_result(self, job_id: str, timeout: float | None = None) -> Any:
        """Wait (no polling) until the job ends; return its result or raise its failure."""
        self._check_open()
        data = await self.listener.wait(
            self.ops, job_id, timeout, lambda op: self._run(op, "wait_for_result on"))
        record = JobRecord(**JobRecord.fields_from_hash(job_id, self.name, data))
        return record.decode_outcome(self.serializer)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a queued or scheduled job; False if it had started or ended already."""
        return await self._run(self.ops.cancel(job_id), "cancel on")

    async def counts(self) -> QueueCounts:
        """How many jobs are queued, scheduled, started, failed and finished."""
        return await self._run(self.ops.counts(), "counts on")

    async def queued_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        return await self._run(self.ops.queued_ids(start, end), "queued_job_ids on")

    async def failed_job_ids(self) -> list[str]:
        return await self._run(self.ops.failed_ids(), "failed_job_ids on")

    async def job_ids(self, state: str, start: int = 0, stop: int = -1) -> list[str]:
        """Ids in ``state`` (queued, scheduled, started, failed, finished, canceled; the
        last two are the 10,000 most recent), ``start``..``stop`` inclusive."""
        return await self._run(self.ops.job_ids(state, start, stop), "job_ids on")

    async def scheduled_job_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        return await self.job_ids("scheduled", start, stop)

    async def started_job_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        return await self.job_ids("started", start, stop)

    async def jobs(self, state: str, start: int = 0, stop: int = 49) -> list[Job[Any]]:
        """A page of jobs in ``state``, read in one round trip."""
        records = await self._run(self.ops.jobs(state, start, stop), "jobs on")
        return [Job(**fields, queue=self) for fields in records]

    async def memory(self) -> QueueMemory:
        """Bytes Redis uses for this queue, and per job (from a sample)."""
        return await self._run(self.ops.memory(), "memory on")

    async def ping(self) -> float:
        """Seconds for a round trip to the queue's server (for readiness checks); raises
        ``ConnectionFailed`` if it does not answer."""
        return await self._run(self.ops.ping(), "ping")

    # -- operating ---------------------------------------------------------------------

    async def requeue_failed(self, *job_ids: str, all: bool = False) -> int:
        """Send failed jobs (the given ids, or ``all=True``) back to the queue."""
        return await self._run(self.ops.requeue_failed(job_ids, all), "requeue_failed on")

    async def empty(self) -> int:
        """Drop every queued job; returns how many were dropped."""
        return await self._run(self.ops.empty(), "empty")

    async def delete(self, *job_ids: str) -> int:
        """Delete jobs that are not running (queued, scheduled, failed or ended); returns
        how many were deleted. A running job is not deleted: cancel it first."""
        deleted, _ = await self._run(self.ops.delete(job_ids), "delete on")
        return deleted

    async def delete_failed(self, *job_ids: str, all: bool = False) -> int:
        """Delete failed jobs: the given ids, or ``all=True``."""
        if all:
            return await self._run(self.ops.delete_failed(), "delete_failed on")
        return await self.delete(*job_ids)

    # -- what the enqueue paths share ------------------------------------------------

    async def _kept(self, draft: Draft, now: float) -> Job[Any]:
        """The pending job a unique or debounced enqueue returned instead of a new one."""
        assert draft.existing is not None
        try:
            return await self.fetch_job(draft.existing)
        except NoSuchJobError:  # it ended and was not kept meanwhile
            job = self._job(draft, now)
            job.id = draft.existing
            return job

    def _record_job(self, record: dict[str, Any]) -> Job[Any]:
        return Job(**record, queue=self)
