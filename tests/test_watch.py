"""`aqueue info --watch`: the live view and its rates."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from rich.console import Console

from aqueue import AsyncQueue
from aqueue.client.admin import AsyncAdmin
from aqueue.client.ops import QueueCounts, QueueTotals
from aqueue.observe.sampling import QueueSample
from aqueue.observe.watch import rates, watch
from tests import observe_tasks
from tests.conftest import BurstRunner

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]


def reading(at: float, finished: int, failed: int, retried: int = 0) -> QueueSample:
    return QueueSample("q", QueueCounts(0, 0, 0, 0, finished), QueueTotals(
        finished, failed, retried, 0), None, at)


def test_rates_are_differences_of_the_totals_per_second() -> None:
    rate = rates(reading(10.0, 100, 4, 2), reading(12.0, 300, 10, 2))
    assert rate is not None
    assert (rate.finished, rate.failed, rate.retried) == (100.0, 3.0, 0.0)


def test_there_is_no_rate_without_an_earlier_reading() -> None:
    assert rates(None, reading(1.0, 5, 0)) is None


def test_totals_that_went_down_were_reset_and_give_no_negative_rate() -> None:
    rate = rates(reading(0.0, 100, 5), reading(1.0, 3, 0))
    assert rate is not None and rate.finished == 0.0 and rate.failed == 0.0


async def test_the_second_refresh_shows_the_rate_of_jobs_finished_in_between(
        queue: AsyncQueue, redis_url: str, run_burst: BurstRunner) -> None:
    out = io.StringIO()
    console = Console(file=out, width=150, force_terminal=False)

    async def finish_jobs_meanwhile() -> None:
        await anyio.sleep(0.3)
        for _ in range(40):
            await queue.enqueue(observe_tasks.noop)
        await run_burst(queue.name, imports=["tests.observe_tasks"])

    async with AsyncAdmin(url=redis_url) as admin, anyio.create_task_group() as group:
        group.start_soon(finish_jobs_meanwhile)
        await watch(admin, [queue.name], interval=2.0, console=console, iterations=2)
    first, second = out.getvalue().split("Redis ")[1:]
    first_row = next(line for line in first.splitlines() if line.startswith(queue.name))
    second_row = next(line for line in second.splitlines() if line.startswith(queue.name))
    assert first_row.split()[5:8] == ["-", "-", "-"]
    finished_per_second = float(second_row.split()[5])
    assert 40 / 2.6 <= finished_per_second <= 40 / 1.9  # 40 jobs over the ~2 s in between


async def test_the_view_lists_every_queue_found_when_none_is_named(
        queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue(observe_tasks.noop)
    out = io.StringIO()
    async with AsyncAdmin(url=redis_url) as admin:
        await watch(admin, [], interval=0.1, console=Console(file=out, width=150),
                    iterations=1)
    row = next(line for line in out.getvalue().splitlines() if line.startswith(queue.name))
    assert row.split()[1:5] == ["1", "0", "0", "0"]  # queued, scheduled, started, failed
    assert "0 live worker(s)" in out.getvalue()


async def test_info_with_an_interval_refreshes_until_interrupted(
        queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue(observe_tasks.noop)
    process = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "info", queue.name, "--url", redis_url,
         "--interval", "0.2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)

    def two_refreshes() -> None:
        assert process.stdout is not None
        headings = 0
        deadline = time.monotonic() + 30
        while headings < 2 and time.monotonic() < deadline:
            headings += process.stdout.readline().startswith("Redis ")
        process.send_signal(signal.SIGINT)

    await anyio.to_thread.run_sync(two_refreshes)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_info_refuses_an_interval_that_is_not_positive() -> None:
    done = subprocess.run([sys.executable, "-m", "aqueue", "info", "--interval", "0",
                           "--url", "redis://127.0.0.1:1/0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --interval must be positive, got 0.0"
