"""Attempt history: each attempt's worker, start, end, outcome and error on the job."""

from __future__ import annotations

import pytest

from aqueue import AsyncQueue, Retry
from aqueue.cli.jobs import describe_job
from tests import control_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def test_a_retried_job_lists_its_failed_attempt_then_the_one_that_finished(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    control_tasks.observed.pop("a1", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]) as worker:
        job = await queue.enqueue(control_tasks.fail_then_succeed, "a1",
                                  retry=Retry(max=2, interval=0))
        assert await job.result(timeout=5) == "second try"
    await job.refresh()
    first, second = job.attempt_history
    assert (first.outcome, first.exc_type, first.exc_message) == (
        "retry", "RuntimeError", "first try fails")
    assert second.outcome == "finished" and second.exc_type is None
    assert first.worker == second.worker == worker.name
    assert first.started_at and first.ended_at and first.started_at <= first.ended_at
    assert second.started_at and second.ended_at and first.ended_at <= second.started_at


async def test_a_job_that_finished_at_once_has_one_attempt_and_no_log_field(
        queue: AsyncQueue, running_worker: WorkerFactory, redis: object) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.add, 1, 2)
        await job.result(timeout=5)
    await job.refresh()
    assert [a.outcome for a in job.attempt_history] == ["finished"]
    assert not await redis.hexists(queue.ops.keys.job(job.id), "attempt_log")  # type: ignore[attr-defined]


async def test_the_history_keeps_the_last_20_attempts(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.fail, "again", retry=Retry(max=24, interval=0))
        with pytest.raises(Exception, match="again"):
            await job.result(timeout=10)
    await job.refresh()
    assert len(job.attempt_history) == 20
    assert [a.outcome for a in job.attempt_history][-2:] == ["retry", "failed"]


async def test_aqueue_job_shows_the_attempts(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    control_tasks.observed.pop("a2", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.fail_then_succeed, "a2",
                                  retry=Retry(max=1, interval=0), meta={"k": 1})
        await job.result(timeout=5)
    lines = describe_job(await queue.fetch_job(job.id))
    text = "\n".join(lines)
    assert "  meta         {\"k\": 1}" in text
    assert "  history" in text
    assert "retry" in text and "RuntimeError: first try fails" in text
