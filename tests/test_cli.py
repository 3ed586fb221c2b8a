"""The aqueue command, run as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobFailed, JobStatus
from tests import tasks

pytestmark = pytest.mark.anyio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_worker(queue_name: str, redis_url: str, *options: str) -> subprocess.Popen[str]:
    """A long-running `aqueue worker` process (functions from tests.tasks)."""
    return subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", queue_name, "--url", redis_url, "--import",
         "tests.tasks", *options], cwd=ROOT, stderr=subprocess.PIPE, text=True)


def aqueue(*args: str, timeout: float = 30, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aqueue", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, env=env)


async def test_worker_command_runs_jobs_in_burst_mode(queue: AsyncQueue, redis_url: str) -> None:
    jobs = [await queue.enqueue(tasks.add, i, i) for i in range(20)]
    done = aqueue("worker", queue.name, "--url", redis_url, "--import", "tests.tasks",
                  "--concurrency", "200", "--burst")
    assert done.returncode == 0, done.stderr
    assert [await job.result(timeout=1) for job in jobs] == [2 * i for i in range(20)]
    assert "20 processed" in done.stderr


async def test_worker_reads_the_url_from_aqueue_url(queue: AsyncQueue, redis_url: str) -> None:
    job = await queue.enqueue(tasks.add, 1, 1)
    env = {**os.environ, "AQUEUE_URL": redis_url}
    done = aqueue("worker", queue.name, "--import", "tests.tasks", "--burst", env=env)
    assert done.returncode == 0, done.stderr
    assert await job.result(timeout=1) == 2


def test_worker_without_import_refuses_to_start() -> None:
    done = aqueue("worker", "q", "--url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert "give at least one --import MODULE" in done.stderr


def test_a_wrong_url_gives_one_clear_line() -> None:
    done = aqueue("worker", "q", "--url", "redis://127.0.0.1:1/0", "--import", "tests.tasks")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        line for line in done.stderr.strip().splitlines() if "Traceback" not in line]
    assert "error: cannot reach Redis at redis://127.0.0.1:1/0" in done.stderr


def test_a_url_that_is_not_redis_gives_one_clear_line() -> None:
    done = aqueue("info", "--url", "http://localhost")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: 'http://localhost' is not a Redis URL: expected redis://HOST:PORT/DB, "
        "rediss://..., unix:///path/to/socket, redis+sentinel://HOST:PORT[,HOST:PORT]/SERVICE "
        "or redis+cluster://HOST:PORT[,HOST:PORT]")


def test_an_unimportable_module_is_named() -> None:
    done = aqueue("worker", "q", "--url", "redis://127.0.0.1:1/0", "--import", "no.such.mod")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: cannot import --import module 'no.such.mod': "
                                   "ModuleNotFoundError: No module named 'no'")


async def test_info_shows_counts_per_queue_and_live_workers(
    queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(tasks.add, 1, 1)
    await queue.enqueue_in(60, tasks.add, 1, 1)
    worker = start_worker("other", redis_url, "--concurrency", "7")
    try:
        for _ in range(100):
            shown = aqueue("info", "--url", redis_url)
            if "1 live worker" in shown.stdout:
                break
            time.sleep(0.05)
        assert shown.returncode == 0, shown.stderr
        row = next(line for line in shown.stdout.splitlines() if line.startswith(queue.name))
        # queued, scheduled, started, failed, finished, retried, oldest, and nobody serves it
        assert row.split()[1:7] == ["1", "1", "0", "0", "0", "0"]
        assert row.endswith("(no live worker serves it)")
        assert "1 live worker(s)" in shown.stdout
        assert f"pid={worker.pid} queues=other concurrency=7" in shown.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    assert "0 live worker(s)" in aqueue("info", "--url", redis_url).stdout


async def test_requeue_all_sends_failed_jobs_back(queue: AsyncQueue, redis_url: str) -> None:
    job = await queue.enqueue(tasks.fail, "once")
    aqueue("worker", queue.name, "--url", redis_url, "--import", "tests.tasks", "--burst")
    with pytest.raises(JobFailed):
        await job.result(timeout=1)
    done = aqueue("requeue", queue.name, "--all", "--url", redis_url)
    assert done.stdout.strip() == f"requeued 1 job(s) to {queue.name}"
    stored = await queue.fetch_job(job.id)
    assert stored.status is JobStatus.QUEUED
    assert stored.exc_type is None
    assert await queue.failed_job_ids() == []
    assert await queue.queued_job_ids() == [job.id]


async def test_requeue_by_id_requeues_only_that_job(queue: AsyncQueue, redis_url: str) -> None:
    first = await queue.enqueue(tasks.fail, "a")
    second = await queue.enqueue(tasks.fail, "b")
    aqueue("worker", queue.name, "--url", redis_url, "--import", "tests.tasks", "--burst")
    done = aqueue("requeue", queue.name, second.id, "--url", redis_url)
    assert done.stdout.strip() == f"requeued 1 job(s) to {queue.name}"
    assert await queue.failed_job_ids() == [first.id]


async def test_empty_drops_queued_jobs(queue: AsyncQueue, redis_url: str, redis: Redis) -> None:
    job = await queue.enqueue(tasks.add, 1, 1)
    await queue.enqueue_many([queue.prepare(tasks.add, i, i) for i in range(1500)])
    done = aqueue("empty", queue.name, "--url", redis_url)
    assert done.stdout.strip() == f"dropped 1501 job(s) from {queue.name}"
    assert (await queue.counts()).queued == 0
    assert not await redis.exists(queue.keys.job(job.id))


def wait_until_registered(redis_url: str, count: int = 1) -> None:
    with redis.Redis.from_url(redis_url) as client:
        for _ in range(400):
            if client.zcard("aq:{aq}:workers") >= count:
                return
            time.sleep(0.025)
    raise AssertionError("the worker did not register within 10 s")


def test_sigterm_stops_a_worker_after_its_running_jobs(redis_url: str) -> None:
    worker = start_worker("q", redis_url)
    wait_until_registered(redis_url)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=15)
    assert worker.returncode == 0, stderr
    assert "SIGTERM: finishing 0 running jobs" in stderr


async def test_a_stuck_thread_job_does_not_keep_the_worker_alive(
    queue: AsyncQueue, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.blocking_sleep, 60, job_timeout=0.3)
    worker = start_worker(queue.name, redis_url)
    with pytest.raises(JobFailed, match="its thread cannot be stopped"):
        await job.result(timeout=10)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=15)
    assert worker.returncode == 0, stderr
    assert "1 job thread(s) still running" in stderr


async def test_a_finished_thread_job_leaves_no_warning_at_exit(
    queue: AsyncQueue, redis_url: str
) -> None:
    job = await queue.enqueue(tasks.blocking_sleep, 0.01)
    worker = start_worker(queue.name, redis_url)
    await job.result(timeout=10)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=15)
    assert worker.returncode == 0, stderr
    assert "still running" not in stderr
