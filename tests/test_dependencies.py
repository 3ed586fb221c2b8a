"""depends_on on one Redis: deferred jobs, parents in other queues, failure policies,
parents that ended already, bad input, cancel and delete of parents, redelivery."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, Dependency, JobCanceled, JobStatus, NoSuchJobError, Queue
from aqueue.workflow.ops import deliver
from tests import workflow_tasks as t
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio
IMPORTS = ["tests.workflow_tasks"]


def worker(running_worker: WorkerFactory, *queues: AsyncQueue,
           **options: Any) -> contextlib.AbstractAsyncContextManager[Any]:
    return running_worker([q.name for q in queues], imports=IMPORTS, **options)


async def test_child_is_deferred_until_its_parent_finishes(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await queue.enqueue(t.note, "parent", 0.2)
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    assert child.status is JobStatus.DEFERRED
    assert await queue.get_status(child.id) is JobStatus.DEFERRED
    assert (await queue.counts()).deferred == 1
    async with worker(running_worker, queue):
        assert await child.result(timeout=5) == "child"
        assert (await queue.fetch_job(parent.id)).ended_at <= (  # type: ignore[operator]
            await queue.fetch_job(child.id)).started_at
    assert (await queue.counts()).deferred == 0


async def test_parent_in_another_queue_releases_the_child(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await other.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    async with worker(running_worker, queue, other):
        assert await child.result(timeout=5) == "child"


async def test_parent_id_in_another_queue_is_named_with_dependency_queue(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await other.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child",
                                depends_on=Dependency(parent.id, queue=other.name))
    async with worker(running_worker, queue, other):
        assert await child.result(timeout=5) == "child"


async def test_child_waits_for_every_parent(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    quick = await queue.enqueue(t.note, "quick")
    slow = await other.enqueue(t.note, "slow", 0.5)
    child = await queue.enqueue(t.note, "child", depends_on=[quick, slow])
    async with worker(running_worker, queue, other):
        assert await child.result(timeout=5) == "child"
        assert (await other.fetch_job(slow.id)).ended_at <= (  # type: ignore[operator]
            await queue.fetch_job(child.id)).started_at


async def test_parent_that_ended_before_the_enqueue_releases_the_child_at_once(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await queue.enqueue(t.note, "parent")
    async with worker(running_worker, queue):
        await parent.result(timeout=5)
        child = await queue.enqueue(t.note, "child", depends_on=parent)
        assert await queue.get_status(child.id) in (JobStatus.QUEUED, JobStatus.STARTED,
                                                    JobStatus.FINISHED)
        assert await child.result(timeout=5) == "child"


async def test_failed_parent_cancels_the_child_with_the_reason(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await queue.enqueue(t.boom, "bad")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    async with worker(running_worker, queue):
        with pytest.raises(JobCanceled, match=f"parent job {parent.id} .* failed"):
            await child.result(timeout=5)
    assert (await queue.fetch_job(child.id)).exc_type == "DependencyFailed"
    assert (await queue.counts()).canceled == 1


async def test_on_failure_run_runs_the_child_after_a_failed_parent(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await queue.enqueue(t.boom, "bad")
    child = await queue.enqueue(t.note, "child",
                                depends_on=Dependency(parent, on_failure="run"))
    async with worker(running_worker, queue):
        assert await child.result(timeout=5) == "child"


async def test_on_failure_ignore_runs_the_child_after_a_failed_parent(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    failed = await queue.enqueue(t.boom, "bad")
    fine = await queue.enqueue(t.note, "fine")
    child = await queue.enqueue(t.note, "child", depends_on=[
        Dependency(failed, on_failure="ignore"), fine])
    async with worker(running_worker, queue):
        assert await child.result(timeout=5) == "child"


async def test_depends_on_a_missing_job_is_refused_and_leaves_nothing(
        queue: AsyncQueue) -> None:
    with pytest.raises(NoSuchJobError, match="depends_on: no job nope"):
        await queue.enqueue(t.note, "child", depends_on="nope", job_id="orphan")
    with pytest.raises(NoSuchJobError):
        await queue.fetch_job("orphan")
    assert (await queue.counts()).deferred == 0


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown on_failure policy 'retry'"):
        Dependency("abc", on_failure="retry")  # type: ignore[arg-type]


async def test_a_job_cannot_depend_on_itself(queue: AsyncQueue) -> None:
    await queue.enqueue(t.note, "first", job_id="same")
    with pytest.raises(ValueError, match="cannot depend on itself"):
        await queue.enqueue(t.note, "again", job_id="same", depends_on="same")


async def test_depends_on_refuses_a_delay_and_flow_options(queue: AsyncQueue) -> None:
    parent = await queue.enqueue(t.note, "parent")
    with pytest.raises(ValueError, match="use enqueue"):
        await queue.enqueue_in(5, t.note, "child", depends_on=parent)
    with pytest.raises(ValueError, match="cannot be combined with priority"):
        await queue.enqueue(t.note, "child", depends_on=parent, priority=3)
    with pytest.raises(TypeError, match="depends_on takes"):
        await queue.enqueue(t.note, "child", depends_on=42)


async def test_canceling_a_parent_cancels_its_dependents(queue: AsyncQueue) -> None:
    parent = await queue.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    grandchild = await queue.enqueue(t.note, "grandchild", depends_on=child)
    runs_anyway = await queue.enqueue(t.note, "anyway",
                                      depends_on=Dependency(parent, on_failure="run"))
    assert await parent.cancel()
    assert await queue.get_status(child.id) is JobStatus.CANCELED
    assert await queue.get_status(grandchild.id) is JobStatus.CANCELED
    assert await queue.get_status(runs_anyway.id) is JobStatus.QUEUED
    with pytest.raises(JobCanceled, match="was canceled"):
        await child.result(timeout=1)


async def test_deleting_a_parent_cancels_its_dependents(queue: AsyncQueue) -> None:
    parent = await queue.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    assert await parent.delete()
    with pytest.raises(JobCanceled, match="was deleted"):
        await child.result(timeout=1)


async def test_canceling_a_deferred_job_forgets_it(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    parent = await queue.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    assert await child.cancel()
    assert (await queue.counts()).deferred == 0
    t.reset()
    async with worker(running_worker, queue):
        await parent.result(timeout=5)
    assert "child" not in t.ran
    assert await queue.get_status(child.id) is JobStatus.CANCELED


async def test_a_message_delivered_twice_releases_once(
        queue: AsyncQueue, redis: Redis) -> None:
    parent = await queue.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    outbox = queue.keys.base + "outbox"
    assert await parent.cancel()  # policy "fail": the child is canceled, once
    await queue.enqueue(t.note, "p2", job_id="p2")
    second = await queue.enqueue(t.note, "c2", depends_on=Dependency("p2", on_failure="run"))
    await redis.hset(outbox, f"{queue.name} {second.id} {queue.name} p2",
                     b"\xa8finished\xc2\xc2\xc2")
    assert await queue._run(deliver([queue.name]), "deliver") == 1
    await redis.hset(outbox, f"{queue.name} {second.id} {queue.name} p2",
                     b"\xa8finished\xc2\xc2\xc2")
    assert await queue._run(deliver([queue.name]), "deliver") == 1
    assert await queue.queued_job_ids() == ["p2", second.id]
    assert (await queue.counts()).canceled == 2  # the parent, and its child once
    assert await queue.get_status(child.id) is JobStatus.CANCELED


async def test_enqueue_many_takes_dependencies_on_jobs_of_the_same_batch(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    first = queue.prepare(t.note, "first")
    second = queue.prepare(t.note, "second", depends_on=first)
    third = queue.prepare(t.note, "third", depends_on=second)
    await queue.enqueue_many([first, second, third])
    assert (await queue.counts()).deferred == 2
    t.reset()
    async with worker(running_worker, queue, concurrency=5):
        assert await third.result(timeout=5) == "third"
    assert t.ran == ["first", "second", "third"]


def test_sync_queue_takes_depends_on(redis_url: str) -> None:
    with Queue(f"q-{uuid.uuid4().hex[:8]}", url=redis_url) as queue:
        parent = queue.enqueue(t.note, "parent")
        child = queue.enqueue(t.note, "child", depends_on=parent)
        assert queue.get_status(child.id) is JobStatus.DEFERRED
        assert queue.cancel(parent.id)
        assert queue.get_status(child.id) is JobStatus.CANCELED


async def test_an_expired_parent_releases_children_by_their_policy(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    import asyncio

    parent = await queue.enqueue(t.note, "late", expires=0.01)
    strict = await queue.enqueue(t.note, "strict", depends_on=parent)
    lenient = await queue.enqueue(t.note, "lenient",
                                  depends_on=Dependency(parent, on_failure="run"))
    await asyncio.sleep(0.05)
    async with worker(running_worker, queue):
        assert await lenient.result(timeout=5) == "lenient"
        with pytest.raises(JobCanceled, match="ended expired"):
            await strict.result(timeout=5)


async def test_info_and_job_lists_show_deferred_jobs(queue: AsyncQueue) -> None:
    from aqueue.cli.info import queue_table

    parent = await queue.enqueue(t.note, "parent")
    child = await queue.enqueue(t.note, "child", depends_on=parent)
    header, row = queue_table({queue.name: await queue.counts()}, []).splitlines()
    assert row.split()[header.split().index("deferred")] == "1"
    assert await queue.job_ids("deferred") == [child.id]


async def test_emptying_the_queue_cancels_dependents_of_dropped_jobs(
        queue: AsyncQueue, other: AsyncQueue) -> None:
    parent = await queue.enqueue(t.note, "parent")
    child = await other.enqueue(t.note, "child", depends_on=parent)
    assert await queue.empty() == 1
    with pytest.raises(JobCanceled, match="was deleted"):
        await child.result(timeout=1)


async def test_an_explicit_id_that_is_deferred_cannot_be_enqueued_again(
        queue: AsyncQueue) -> None:
    from aqueue import JobExistsError

    parent = await queue.enqueue(t.note, "parent")
    await queue.enqueue(t.note, "child", job_id="kid", depends_on=parent)
    with pytest.raises(JobExistsError, match="already deferred"):
        await queue.enqueue(t.note, "again", job_id="kid")
    with pytest.raises(JobExistsError, match="already deferred"):
        await queue.enqueue(t.note, "again", job_id="kid", depends_on=parent)
