"""Typed tasks: ``task.on(queue).enqueue(...)`` runs the function, with options set apart
and arguments that mypy checks against the function's signature."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from aqueue import AsyncQueue, Queue, Retry
from tests import tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def test_a_task_enqueues_its_function_and_a_worker_runs_it(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await tasks.greet.on(queue).enqueue("ada", punctuation="?")
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == "hello ada?"
    assert job.func == "tests.tasks.greet"


async def test_a_decorated_task_is_still_a_plain_function() -> None:
    assert await tasks.greet("bob") == "hello bob!"


async def test_task_options_override_its_defaults(queue: AsyncQueue) -> None:
    job = await tasks.greet.on(queue).options(job_timeout=5, retry=Retry(max=2)).enqueue("x")
    stored = await queue.fetch_job(job.id)
    assert stored.timeout == 5
    assert stored.retry is not None and stored.retry.max == 2
    plain = await tasks.greet.on(queue).enqueue("y")
    assert (await queue.fetch_job(plain.id)).timeout == 30  # the @task default


async def test_queue_task_wraps_any_module_function(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    job = await queue.task(tasks.add, job_timeout=7).enqueue(2, 3)
    async with running_worker(queue.name):
        assert await job.result(timeout=5) == 5
    assert (await queue.fetch_job(job.id)).timeout == 7


async def test_a_task_on_a_sync_queue_enqueues_without_await(
    redis_url: str, running_worker: WorkerFactory
) -> None:
    with Queue("sync-tasks", url=redis_url) as queue:
        job = tasks.greet.on(queue).enqueue("cy")
        async with running_worker("sync-tasks"):
            import anyio
            assert await anyio.to_thread.run_sync(lambda: job.result(timeout=5)) == "hello cy!"


async def test_a_task_refuses_an_unknown_option_when_it_is_set(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match="unknown enqueue option 'timeout'"):
        tasks.greet.on(queue).options(timeout=5)  # type: ignore[call-arg]


async def test_a_task_refuses_arguments_its_function_does_not_take(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match=r"cannot enqueue tests\.tasks\.greet"):
        await tasks.greet.on(queue).enqueue("x", loudly=True)  # type: ignore[call-arg]
    assert (await queue.counts()).queued == 0


def mypy_errors(tmp_path: Path, code: str) -> str:
    path = tmp_path / "usage.py"
    path.write_text(textwrap.dedent(code))
    out, err, _ = mypy_api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "c"),
                                str(path)])
    return out + err


def test_mypy_accepts_well_typed_task_calls(tmp_path: Path) -> None:
    errors = mypy_errors(tmp_path, """
        from aqueue import AsyncQueue, Job, Queue, SyncJob, Retry
        from tests.tasks import greet

        async def use(queue: AsyncQueue, sync_queue: Queue) -> None:
            job: Job[str] = await greet.on(queue).enqueue("ada", punctuation="?")
            retried: Job[str] = await greet.on(queue).options(retry=Retry(3)).enqueue("b")
            result: str = await job.result()
            blocking: SyncJob[str] = greet.on(sync_queue).enqueue("c")
    """)
    assert "Success: no issues found" in errors, errors


def test_mypy_flags_arguments_that_do_not_fit_the_function(tmp_path: Path) -> None:
    errors = mypy_errors(tmp_path, """
        from aqueue import AsyncQueue
        from tests.tasks import greet

        async def use(queue: AsyncQueue) -> None:
            await greet.on(queue).enqueue(42)
            await greet.on(queue).enqueue("ada", loudly=True)
            await greet.on(queue).options(timeout=5).enqueue("ada")
    """)
    assert 'Argument 1 to "enqueue" of "AsyncTask" has incompatible type "int"' in errors, errors
    assert 'Unexpected keyword argument "loudly"' in errors, errors
    assert 'Unexpected keyword argument "timeout"' in errors, errors
