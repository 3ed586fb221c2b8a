"""``Queue``: the sync producer, for Flask, Django, scripts and threads.

The same names as ``AsyncQueue``, the same job encoding, the same operations and Lua
scripts (``client/ops.py``), sent over blocking connections. One ``Queue`` is safe to
share across threads: commands borrow a connection from a small pool, and every waiting
thread shares one subscription per server.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, Unpack, overload

from redis.exceptions import RedisError

from aqueue.client.base import DEFAULT_MAX_PAYLOAD, QueueBase
from aqueue.client.encoding import Draft, FunctionRef
from aqueue.client.ops import Call, Many, Op, QueueCounts, QueueMemory, QueueOps, Script, Step
from aqueue.client.sync_listener import SyncResultListener
from aqueue.client.sync_operate import SyncOperate
from aqueue.client.translate import translate
from aqueue.errors import NoSuchJobError
from aqueue.job import JobRecord, JobStatus, SyncJob
from aqueue.jobcontrol.record import Progress
from aqueue.options import DEFAULT_JOB_TIMEOUT, DEFAULT_RESULT_TTL, KEEP_FOREVER, JobOptions
from aqueue.serializers import Serializer
from aqueue.store.server import warn_if_evicting
from aqueue.store.sync_store import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT, SyncStore
from aqueue.tasks import SyncTask, Task
from aqueue.workflow.compose import Chain, Group, Signature
from aqueue.workflow.handle import SyncWorkflow

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Queue(SyncOperate, QueueBase):
    """A named queue in Redis, for code that does not run an event loop.

    ``Queue("email", url="redis://127.0.0.1:6379/0")`` or ``Queue("email",
    connection=redis.Redis(...))``; ``pool_size`` connections per server are shared by
    all threads.
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
        pool_size: int = DEFAULT_POOL_SIZE,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        super().__init__(name, serializer=serializer, job_timeout=job_timeout,
                         result_ttl=result_ttl, failure_ttl=failure_ttl, max_payload=max_payload)
        self.store = SyncStore.open(url, connection, name=f"aqueue:producer:{name}",
                                    pool_size=pool_size, pool_timeout=pool_timeout)
        self._listener: SyncResultListener | None = None
        self._listener_lock = threading.Lock()
        self._first_use_done = False
        self._pid = os.getpid()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close this queue's connections; using the queue afterwards is an error."""
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        self.store.close()

    # -- running operations ------------------------------------------------------------

    def _run(self, op: Op[T], action: str, *, write: bool = False) -> T:
        if self._closed:
            op.close()
            self._check_open()
        self._after_fork()
        if write and not self._first_use_done:
            self._first_use()
        try:
            return self._drive(op)
        except (RedisError, OSError) as exc:
            raise translate(exc, action, self.name, self.store) from None

    def _drive(self, op: Op[T]) -> T:
        """Run an operation's steps; Redis errors go into it, for it to handle or raise."""
        try:
            step = next(op)
            while True:
                try:
                    reply = self._execute(step)
                except (RedisError, OSError) as exc:
                    step = op.throw(exc)
                else:
                    step = op.send(reply)
        except StopIteration as stop:
            value: T = stop.value
            return value

    def _execute(self, step: Step) -> Any:
        if isinstance(step, Script):
            return self.store.script(step.name, step.keys, step.args, before=step.before)
        if isinstance(step, Call):
            return self.store.call(*step.command, key=step.key)
        if isinstance(step, Many):
            return self.store.call_many(step.commands, key=step.key)
        time.sleep(step.seconds)
        return None

    def _first_use(self) -> None:
        """See ``AsyncQueue._once``."""
        try:
            policy = self._drive(self.ops.first_use())
        except (RedisError, OSError):
            return  # tried again on the next write
        self._first_use_done = True
        warn_if_evicting(policy, self.store.describe(), f"queue {self.name!r}")

    def _after_fork(self) -> None:
        """A forked child (gunicorn, Celery prefork...) must not share the parent's sockets."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self.store = SyncStore(self.store.config, name=self.store.name,
                                   pool_size=self.store.pool_size,
                                   pool_timeout=self.store.pool_timeout)
            self._listener = None
            self._listener_lock = threading.Lock()

    # -- building jobs ---------------------------------------------------------------

    @overload
    def prepare(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> SyncJob[R]: ...
    @overload
    def prepare(self, fn: str, *args: Any, **kwargs: Any) -> SyncJob[Any]: ...

    def prepare(self, fn: FunctionRef, *args: Any, **kwargs: Any) -> SyncJob[Any]:
        """A job for ``enqueue_many``; see ``AsyncQueue.prepare``."""
        return self._job(self._draft(fn, args, kwargs))

    def prepare_call(self, fn: FunctionRef, args: Sequence[Any] = (),
                     kwargs: dict[str, Any] | None = None, **options: Any) -> SyncJob[Any]:
        return self._job(self._draft_call(fn, args, kwargs, options))

    def _job(self, draft: Draft, now: float | None = None) -> SyncJob[Any]:
        job: SyncJob[Any] = SyncJob(**draft.record(self.name, now or time.time()), queue=self)
        job.draft = draft
        return job

    @overload
    def task(self, fn: Callable[P, Awaitable[R]], **options: Unpack[JobOptions]
             ) -> SyncTask[P, R]: ...
    @overload
    def task(self, fn: Callable[P, R], **options: Unpack[JobOptions]) -> SyncTask[P, R]: ...

    def task(self, fn: Callable[..., Any], **options: Unpack[JobOptions]) -> SyncTask[Any, Any]:
        """``fn`` as a typed task on this queue: ``.enqueue(...)`` is checked against its
        signature, options go to ``task(fn, job_timeout=...)`` or ``.options(...)``."""
        base = fn if isinstance(fn, Task) else Task(fn, {})
        return base.on(self).options(**options)

    # -- enqueueing --------------------------------------------------------------------

    @overload
    def enqueue(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> SyncJob[R]: ...
    @overload
    def enqueue(self, fn: str, *args: Any, **kwargs: Any) -> SyncJob[Any]: ...

    def enqueue(self, fn: FunctionRef, *args: Any, **kwargs: Any) -> SyncJob[Any]:
        """Enqueue ``fn(*args, **kwargs)``; see ``AsyncQueue.enqueue``. (For an ``async
        def`` function, ``SyncJob[R]`` is typed with the coroutine; ``Task`` types it.)"""
        return self._send(self._draft(fn, args, kwargs))

    def enqueue_call(self, fn: FunctionRef, args: Sequence[Any] = (),
                     kwargs: dict[str, Any] | None = None, **options: Any) -> SyncJob[Any]:
        return self._send(self._draft_call(fn, args, kwargs, options))

    def enqueue_at(self, when: datetime | float, fn: FunctionRef, *args: Any,
                   **kwargs: Any) -> SyncJob[Any]:
        return self._send(self._draft_at(when, fn, args, kwargs))

    def enqueue_in(self, delay: timedelta | float, fn: FunctionRef, *args: Any,
                   **kwargs: Any) -> SyncJob[Any]:
        return self._send(self._draft_in(delay, fn, args, kwargs))

    def _send(self, draft: Draft) -> SyncJob[Any]:
        now = self._run(self.ops.enqueue([draft]), "enqueue to", write=True)
        if draft.existing is not None:  # unique or debounced: the pending job is the answer
            return self._kept(draft, now)
        return self._job(draft, now)

    def enqueue_many(self, jobs: Iterable[SyncJob[Any]], batch_size: int = 1000
                     ) -> list[SyncJob[Any]]:
        all_jobs = list(jobs)
        drafts = self._drafts_of(all_jobs)
        for start in range(0, len(drafts), batch_size):
            now = self._run(self.ops.enqueue(drafts[start:start + batch_size]), "enqueue to",
                            write=True)
            for job in all_jobs[start:start + batch_size]:
                job.enqueued_at = now
                if job.draft.existing is not None:  # unique or debounced: kept instead
                    job.id = job.draft.existing
        return all_jobs

    # -- inspecting --------------------------------------------------------------------

    def fetch_job(self, job_id: str) -> SyncJob[Any]:
        return SyncJob(**self._run(self.ops.fetch(job_id), "fetch_job on"), queue=self)

    def get_status(self, job_id: str) -> JobStatus:
        return self._run(self.ops.status(job_id), "get_status on")

    def progress_updates(self, job_id: str) -> Iterator[Progress]:
        """The job's progress as its worker records it (the last one first), until the job
        ends; through this queue's result listener (no connection of its own)."""
        from aqueue.client.progress import follow_progress_sync

        return follow_progress_sync(self, job_id)

    def wait_for_result(self, job_id: str, timeout: float | None = None) -> Any:
        """Block (no polling) until the job ends; return its result or raise its failure."""
        data = self._wait_hash(self.ops, job_id, timeout)
        record = JobRecord(**JobRecord.fields_from_hash(job_id, self.name, data))
        return record.decode_outcome(self.serializer)

    def _wait_hash(self, ops: QueueOps, job_id: str, timeout: float | None
                   ) -> dict[bytes, bytes]:
        return self.listener.wait(ops, job_id, timeout,
                                  lambda op: self._run(op, "wait_for_result on"))

    @property
    def listener(self) -> SyncResultListener:
        """The one subscriber thread and connections all of this queue's waiters share."""
        self._check_open()
        self._after_fork()
        with self._listener_lock:
            if self._listener is None:
                self._listener = SyncResultListener(self.store)
            return self._listener

    # -- workflows (aqueue.workflow, docs/workflows.md) -----------------------------

    def enqueue_workflow(self, flow: Signature[R] | Chain[R] | Group[R]) -> SyncWorkflow[R]:
        """Enqueue a ``chain(...)``, ``group(...)`` or ``step(...)`` (see AsyncQueue)."""
        from aqueue.workflow import handle

        jobs, exits, single = handle.plan(self, flow)
        self._run(handle.enqueue_plan(jobs), "enqueue a workflow to", write=True)
        return handle.SyncWorkflow(self, [(q, d.id) for q, d in jobs], exits, single)

    def gather(self, jobs: Iterable[Any], timeout: float | None = None,
               return_exceptions: bool = False) -> list[Any]:
        """The results of many jobs (``SyncJob``s of any queue, or ids of this one)."""
        from aqueue.workflow.handle import gather_sync

        return gather_sync(self, jobs, timeout, return_exceptions)

    def cancel(self, job_id: str) -> bool:
        return self._run(self.ops.cancel(job_id), "cancel on")

    def counts(self) -> QueueCounts:
        return self._run(self.ops.counts(), "counts on")

    def queued_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        return self._run(self.ops.queued_ids(start, end), "queued_job_ids on")

    def failed_job_ids(self) -> list[str]:
        return self._run(self.ops.failed_ids(), "failed_job_ids on")

    def job_ids(self, state: str, start: int = 0, stop: int = -1) -> list[str]:
        """See ``AsyncQueue.job_ids``."""
        return self._run(self.ops.job_ids(state, start, stop), "job_ids on")

    def scheduled_job_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        return self.job_ids("scheduled", start, stop)

    def started_job_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        return self.job_ids("started", start, stop)

    def jobs(self, state: str, start: int = 0, stop: int = 49) -> list[SyncJob[Any]]:
        records = self._run(self.ops.jobs(state, start, stop), "jobs on")
        return [SyncJob(**fields, queue=self) for fields in records]

    def memory(self) -> QueueMemory:
        return self._run(self.ops.memory(), "memory on")

    def ping(self) -> float:
        """See ``AsyncQueue.ping``."""
        return self._run(self.ops.ping(), "ping")

    # -- operating ---------------------------------------------------------------------

    def requeue_failed(self, *job_ids: str, all: bool = False) -> int:
        return self._run(self.ops.requeue_failed(job_ids, all), "requeue_failed on")

    def empty(self) -> int:
        return self._run(self.ops.empty(), "empty")

    def delete(self, *job_ids: str) -> int:
        """See ``AsyncQueue.delete``."""
        deleted, _ = self._run(self.ops.delete(job_ids), "delete on")
        return deleted

    def delete_failed(self, *job_ids: str, all: bool = False) -> int:
        if all:
            return self._run(self.ops.delete_failed(), "delete_failed on")
        return self.delete(*job_ids)

    # -- what the enqueue paths share ------------------------------------------------

    def _kept(self, draft: Draft, now: float) -> SyncJob[Any]:
        """The pending job a unique or debounced enqueue returned instead of a new one."""
        assert draft.existing is not None
        try:
            return self.fetch_job(draft.existing)
        except NoSuchJobError:  # it ended and was not kept meanwhile
            job = self._job(draft, now)
            job.id = draft.existing
            return job

    def _record_job(self, record: dict[str, Any]) -> SyncJob[Any]:
        return SyncJob(**record, queue=self)
