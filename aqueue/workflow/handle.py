"""Enqueueing a workflow, and what the caller gets back: its jobs, its result, cancel;
and ``gather``, many results awaited at once over the client's shared result listener."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aqueue.client.encoding import Draft, JobEncoder
from aqueue.client.ops import Op, QueueOps
from aqueue.errors import NoSuchJobError
from aqueue.job import JobRecord
from aqueue.workflow.compose import Chain, Exit, Group, Node, Planner, Signature

if TYPE_CHECKING:
    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.base import QueueBase
    from aqueue.client.sync_queue import Queue

R = TypeVar("R")
BATCH = 1000
JobRef = Any  # a Job / SyncJob, an id (of the queue asked), or a (queue, id) pair


def plan(queue: QueueBase, node: Node) -> tuple[list[tuple[str, Draft]], list[Exit], bool]:
    """Draft every job of ``node`` (every check runs here, before anything is sent)."""
    if not isinstance(node, Signature | Chain | Group):
        raise TypeError(f"enqueue_workflow takes step(...), chain(...) or group(...); got "
                        f"{type(node).__name__}")
    encoders: dict[str, JobEncoder] = {queue.name: queue.encoder}

    def encoder_for(name: str) -> JobEncoder:
        if name not in encoders:
            own = queue.encoder
            encoders[name] = JobEncoder(name, own.serializer, own.defaults, own.max_payload)
        return encoders[name]

    planner = Planner(encoder_for, queue.name)
    exits, single = planner.plan(node, [], "chain", "fail")
    return planner.jobs, exits, single


def enqueue_plan(jobs: Sequence[tuple[str, Draft]]) -> Op[None]:
    """Enqueue in order, consecutive jobs of one queue in one batch (parents are always
    before their children, so each child finds its parents written)."""
    start = 0
    while start < len(jobs):
        name = jobs[start][0]
        end = start
        while end < len(jobs) and jobs[end][0] == name and end - start < BATCH:
            end += 1
        yield from QueueOps(name).enqueue([draft for _, draft in jobs[start:end]])
        start = end


def cancel_all(jobs: Sequence[Exit]) -> Op[int]:
    """Cancel every job that has not started, children first (so that no cancel releases
    a job about to be canceled); returns how many were canceled."""
    canceled = 0
    for name, job_id in reversed(jobs):
        with contextlib.suppress(NoSuchJobError):  # it ended and was not kept
            canceled += bool((yield from QueueOps(name).cancel(job_id)))
    return canceled


def _refs(queue_name: str, items: Iterable[JobRef]) -> list[Exit]:
    refs = []
    for item in items:
        if isinstance(item, str):
            refs.append((queue_name, item))
        elif isinstance(item, tuple):
            refs.append((str(item[0]), str(item[1])))
        else:
            refs.append((item.queue_name, item.id))
    return refs


async def gather(queue: AsyncQueue, items: Iterable[JobRef], timeout: float | None,
                 return_exceptions: bool) -> list[Any]:
    """The results of many jobs (in any queues), in order, awaited together."""
    queue._check_open()

    async def one(name: str, job_id: str) -> Any:
        ops = queue.ops if name == queue.name else QueueOps(name)
        data = await queue.listener.wait(ops, job_id, timeout,
                                         lambda op: queue._run(op, "gather on"))
        record = JobRecord(**JobRecord.fields_from_hash(job_id, name, data))
        return record.decode_outcome(queue.serializer)

    refs = _refs(queue.name, items)
    return await asyncio.gather(*(one(q, i) for q, i in refs),
                                return_exceptions=return_exceptions)


def gather_sync(queue: Queue, items: Iterable[JobRef], timeout: float | None,
                return_exceptions: bool) -> list[Any]:
    """``gather`` for the sync ``Queue``: one wait after the other, one deadline."""
    deadline = None if timeout is None else time.monotonic() + timeout
    results: list[Any] = []
    for name, job_id in _refs(queue.name, items):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ops = queue.ops if name == queue.name else QueueOps(name)
        try:
            data = queue._wait_hash(ops, job_id, left)
            record = JobRecord(**JobRecord.fields_from_hash(job_id, name, data))
            results.append(record.decode_outcome(queue.serializer))
        except Exception as exc:
            if not return_exceptions:
                raise
            results.append(exc)
    return results


@dataclass
class Workflow(Generic[R]):
    """An enqueued workflow (``AsyncQueue.enqueue_workflow``)."""

    queue: AsyncQueue
    jobs: list[Exit]  # (queue, id) of every job, parents before children
    exits: list[Exit]  # the last jobs: one, or a group's members
    single: bool  # one last job (its result), else a list of results

    async def result(self, timeout: float | None = None) -> R:
        """The last job's result (a group without callback: the list of its results);
        raises like ``Job.result()`` (``JobCanceled`` names the failed parent)."""
        results = await gather(self.queue, self.exits, timeout, False)
        value: R = results[0] if self.single else results  # type: ignore[assignment]
        return value

    async def cancel(self) -> int:
        """Cancel every job of the workflow not started yet; returns how many."""
        return await self.queue._run(cancel_all(self.jobs), "cancel a workflow on")


@dataclass
class SyncWorkflow(Generic[R]):
    """An enqueued workflow (``Queue.enqueue_workflow``)."""

    queue: Queue
    jobs: list[Exit]
    exits: list[Exit]
    single: bool

    def result(self, timeout: float | None = None) -> R:
        results = gather_sync(self.queue, self.exits, timeout, False)
        value: R = results[0] if self.single else results  # type: ignore[assignment]
        return value

    def cancel(self) -> int:
        return self.queue._run(cancel_all(self.jobs), "cancel a workflow on")
