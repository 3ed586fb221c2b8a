"""The CLI for operating a queue: looking at jobs and failures, acting on them, and
errors that are one line with a documented exit code."""

from __future__ import annotations

import asyncio
import re

import pytest

from aqueue import AsyncQueue, JobFailed, Retry, Worker
from tests import tasks
from tests.conftest import BurstRunner
from tests.test_cli import aqueue, start_worker, wait_until_registered

pytestmark = pytest.mark.anyio


async def failed_job(queue: AsyncQueue, run_burst: BurstRunner, message: str = "declined"
                     ) -> str:
    job = await queue.enqueue(tasks.fail, message)
    await run_burst(queue.name)
    with pytest.raises(JobFailed):
        await job.result(timeout=1)
    return job.id


async def test_job_shows_function_arguments_times_and_result(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.add, 2, 3, description="two and three")
    await run_burst(queue.name)
    out = aqueue("job", queue.name, job.id, "--url", redis_url)
    assert out.returncode == 0, out.stderr
    assert f"job {job.id} in queue {queue.name}" in out.stdout
    assert re.search(r"status\s+finished", out.stdout)
    assert re.search(r"function\s+tests\.tasks\.add", out.stdout)
    assert re.search(r"args\s+\[2, 3\]", out.stdout)
    assert re.search(r"result\s+5", out.stdout)
    assert re.search(r"ended\s+20\d\d-", out.stdout)
    assert "two and three" in out.stdout


async def test_job_shows_the_error_and_traceback_of_a_failed_job(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    job_id = await failed_job(queue, run_burst, "card declined")
    out = aqueue("job", queue.name, job_id, "--url", redis_url)
    assert "error        ValueError: card declined" in out.stdout
    assert "raise ValueError(message)" in out.stdout


def test_job_for_an_unknown_id_is_one_line_and_exit_1(redis_url: str) -> None:
    out = aqueue("job", "q", "nope", "--url", redis_url)
    assert out.returncode == 1
    assert out.stderr.strip() == "error: no job nope in queue 'q' (it may have expired)"


async def test_failed_lists_failures_newest_first(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    first = await failed_job(queue, run_burst, "first")
    second = await failed_job(queue, run_burst, "second")
    out = aqueue("failed", queue.name, "--url", redis_url)
    lines = out.stdout.splitlines()
    assert lines[0].startswith(second) and "ValueError: second" in lines[0]
    assert lines[1].startswith(first)
    assert "(2 failed job(s) shown)" in out.stdout


async def test_failed_requeue_all_sends_them_back(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    await failed_job(queue, run_burst)
    await failed_job(queue, run_burst)
    out = aqueue("failed", queue.name, "--requeue", "--all", "--url", redis_url)
    assert "requeued 2 job(s)" in out.stdout
    counts = await queue.counts()
    assert (counts.failed, counts.queued) == (0, 2)


async def test_failed_delete_removes_the_failed_jobs(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    job_id = await failed_job(queue, run_burst)
    out = aqueue("failed", queue.name, "--delete", "--url", redis_url)
    assert "deleted 1 failed job(s)" in out.stdout
    assert (await queue.counts()).failed == 0
    assert aqueue("job", queue.name, job_id, "--url", redis_url).returncode == 1


async def test_jobs_lists_scheduled_ids(queue: AsyncQueue, redis_url: str) -> None:
    later = await queue.enqueue_in(3600, tasks.add, 1, 1)
    out = aqueue("jobs", queue.name, "--state", "scheduled", "--url", redis_url)
    assert out.stdout.startswith(f"{later.id}  scheduled  tests.tasks.add")
    assert await queue.scheduled_job_ids() == [later.id]


async def test_delete_refuses_a_running_job(queue: AsyncQueue, redis_url: str) -> None:
    job = await queue.enqueue(tasks.sleep_forever, "running")
    async with Worker([queue.name], url=redis_url, imports=["tests.tasks"], grace=0):
        while not await queue.started_job_ids():
            await asyncio.sleep(0.01)
        out = aqueue("delete", queue.name, job.id, "--url", redis_url)
    assert out.returncode == 1
    assert "deleted 0 job(s)" in out.stdout
    assert "were not deleted: running, or no such job" in out.stderr


async def test_info_shows_retries_oldest_age_and_unserved_queues(
    queue: AsyncQueue, run_burst: BurstRunner, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.fail_times, "k", 1, retry=Retry(max=1))
    await run_burst(queue.name)
    assert await job.result(timeout=1) == "ok"
    await queue.enqueue(tasks.add, 1, 1)
    out = aqueue("info", queue.name, "--url", redis_url)
    row = next(line for line in out.stdout.splitlines() if line.startswith(queue.name))
    assert row.split()[1:8] == ["1", "0", "0", "0", "1", "1", row.split()[7]]
    assert "(no live worker serves it)" in row


async def test_info_shows_heartbeat_age_and_warns_about_a_shared_name(
    queue: AsyncQueue, redis_url: str
) -> None:
    workers = [start_worker(queue.name, redis_url, "--name", "twin") for _ in range(2)]
    try:
        wait_until_registered(redis_url)
        await asyncio.sleep(0.3)
        out = aqueue("info", "--url", redis_url)
        assert re.search(r"twin .* heartbeat=[\d.]+s ago", out.stdout), out.stdout
        assert "WARNING: 2 live processes share this name" in out.stdout
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)


def test_version_prints_the_version() -> None:
    out = aqueue("--version")
    assert out.returncode == 0
    assert re.fullmatch(r"aqueue \S+\n", out.stdout)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--threads", "0", "--threads must be at least 1, got 0"),
    ("--grace", "-1", "--grace must be 0 or more seconds, got -1"),
    ("--max-deliveries", "-1", "--max-deliveries must be 0 (no limit) or more, got -1"),
    ("--log-level", "verbose", "--log-level must be one of DEBUG, INFO, WARNING, ERROR, "
                               "CRITICAL, got 'verbose'"),
])
def test_a_worker_option_out_of_range_is_one_line_and_exit_2(
    option: str, value: str, message: str
) -> None:
    out = aqueue("worker", "q", "--import", "tests.tasks", option, value)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {message}"


def test_an_import_module_that_fails_is_one_line_naming_it() -> None:
    out = aqueue("worker", "q", "--import", "tests.broken_module", "--url",
                 "redis://127.0.0.1:1/0")
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: cannot import --import module 'tests.broken_module': "
                                  "RuntimeError: this module is broken on purpose")


def test_a_usage_error_is_one_line_and_exit_2() -> None:
    out = aqueue("worker", "q", "--concurrency", "many")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("error: Invalid value for '--concurrency'")
