"""Snooze: a job puts itself back for N seconds, without a failure or a retry attempt."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aqueue import AsyncQueue, Job, JobStatus, Retry, Snooze
from tests import control_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def scheduled(job: Job[Any]) -> None:
    for _ in range(300):
        await job.refresh()
        if job.status is JobStatus.SCHEDULED:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job.id} is {job.status}, not scheduled")


async def test_a_snoozed_job_runs_again_after_its_snooze_without_counting_an_attempt(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    control_tasks.observed.pop("s1", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.snooze_once, "s1", 0.3)
        began = time.monotonic()
        assert await job.result(timeout=5) == 1  # still its first attempt
        assert time.monotonic() - began >= 0.3
    await job.refresh()
    assert job.attempts == 0 and job.exc_type is None
    assert [a.outcome for a in job.attempt_history] == ["snooze", "finished"]


async def test_a_snoozing_job_is_scheduled_meanwhile(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    control_tasks.observed.pop("s2", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]) as worker:
        job = await queue.enqueue(control_tasks.snooze_once, "s2", 30,
                                  retry=Retry(max=1, interval=0))
        await scheduled(job)
        assert job.status is JobStatus.SCHEDULED
        assert job.scheduled_for is not None and job.scheduled_for - time.time() > 25
        assert worker.stats.retried == 0 and worker.stats.failed == 0


async def test_raising_snooze_works_like_current_job_snooze(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.raise_snooze, 60)
        await scheduled(job)
    assert job.status is JobStatus.SCHEDULED and job.attempts == 0


def test_a_negative_snooze_is_refused_where_it_is_raised() -> None:
    with pytest.raises(ValueError, match="0 to"):
        Snooze(-1)
    with pytest.raises(TypeError, match="seconds"):
        Snooze("10")  # type: ignore[arg-type]


async def test_a_thread_job_snoozes_too(queue: AsyncQueue, running_worker: WorkerFactory
                                        ) -> None:
    control_tasks.observed.pop("s3", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.snooze_in_thread, "s3")
        assert await job.result(timeout=5) == "woke"
    await job.refresh()
    assert job.attempts == 0 and [a.outcome for a in job.attempt_history] == [
        "snooze", "finished"]
