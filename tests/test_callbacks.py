"""on_success / on_failure: run by the worker after the outcome is recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aqueue import AsyncQueue, Job, JobFailed, JobStatus, Worker
from tests import control_tasks
from tests.topologies import Topology

pytestmark = pytest.mark.anyio


async def settled(key: str) -> object:
    for _ in range(300):
        if key in control_tasks.observed:
            return control_tasks.observed[key]
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} never happened")


async def callback_recorded(job: Job[Any]) -> None:
    """Refresh the job until the worker has recorded a callback error (3 s at most; the
    assertions that follow say what was expected)."""
    for _ in range(300):
        await job.refresh()
        if job.callback_error:
            return
        await asyncio.sleep(0.01)


async def test_on_success_gets_the_job_and_its_result(topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            Worker([queue.name], url=topology.url, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.add, 2, 3, on_success=control_tasks.on_success)
        assert await job.result(timeout=5) == 5
        assert await settled(f"success:{job.id}") == 5


async def test_on_failure_gets_the_error_after_the_failure_is_recorded(
        queue: AsyncQueue, running_worker: object) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):  # type: ignore[operator]
        job = await queue.enqueue(control_tasks.fail, "boom",
                                  on_failure="tests.control_tasks.on_failure")
        with pytest.raises(JobFailed):
            await job.result(timeout=5)
        assert await settled(f"failure:{job.id}") == ("ValueError", "boom")


async def test_a_failing_callback_is_recorded_and_the_outcome_stands(
        queue: AsyncQueue, running_worker: object) -> None:
    async with running_worker(queue.name, imports=["tests.control_tasks"]):  # type: ignore[operator]
        job = await queue.enqueue(control_tasks.add, 1, 1,
                                  on_success=control_tasks.broken_callback)
        assert await job.result(timeout=5) == 2
        await callback_recorded(job)
    assert job.status is JobStatus.FINISHED
    assert job.callback_error == ("tests.control_tasks.broken_callback: RuntimeError: "
                                  "callback broke")


async def test_a_callback_the_worker_does_not_allow_is_not_run(
        queue: AsyncQueue, running_worker: object) -> None:
    async with running_worker(queue.name, imports=[],  # type: ignore[operator]
                              functions=[control_tasks.add]):
        job = await queue.enqueue(control_tasks.add, 1, 1, on_success=control_tasks.on_success)
        assert await job.result(timeout=5) == 2
        await callback_recorded(job)
    assert job.callback_error is not None and "not in a module" in job.callback_error
    assert f"success:{job.id}" not in control_tasks.observed


async def test_an_unknown_callback_is_refused_at_enqueue(queue: AsyncQueue) -> None:
    with pytest.raises(ValueError, match="unknown callback function"):
        await queue.enqueue(control_tasks.add, 1, 1, on_success="tests.control_tasks.nope")
    with pytest.raises(ValueError, match=r"on_failure: .*lambda"):
        await queue.enqueue(control_tasks.add, 1, 1, on_failure=lambda job, err: None)
    with pytest.raises(ValueError, match=r"on_success: .*'module.function'"):
        await queue.enqueue(control_tasks.add, 1, 1, on_success="nodots")
