"""What a worker's log says about jobs and about Redis: failures with their type and
message, retries with their attempt and delay, and when Redis is back."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aqueue import AsyncQueue, JobFailed, Retry, Worker
from aqueue.events import Event
from tests import tasks
from tests.conftest import BurstRunner
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


async def test_a_failure_is_logged_with_its_type_and_message(
    queue: AsyncQueue, run_burst: BurstRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aqueue")
    job = await queue.enqueue(tasks.fail, "card declined")
    await run_burst(queue.name)
    assert f"job {job.id} (tests.tasks.fail) failed: ValueError: card declined" in messages(
        caplog, logging.ERROR)


async def test_the_traceback_is_logged_at_debug(
    queue: AsyncQueue, run_burst: BurstRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "aqueue")
    await queue.enqueue(tasks.fail, "x")
    await run_burst(queue.name)
    assert any("raise ValueError(message)" in m for m in messages(caplog))


async def test_a_retry_is_logged_with_attempt_and_delay(
    queue: AsyncQueue, run_burst: BurstRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aqueue")
    job = await queue.enqueue(tasks.fail_times, "r", 1, retry=Retry(max=2, interval=0.1))
    await run_burst(queue.name)
    assert await job.result(timeout=1) == "ok"
    assert (f"job {job.id} (tests.tasks.fail_times) failed (attempt 1 of 3): RuntimeError: "
            "attempt 1 failed; retrying in 0.1 s") in messages(caplog, logging.WARNING)


async def test_a_worker_says_when_redis_is_back_and_after_how_long(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aqueue")
    server = RedisServer()
    try:
        async with Worker(["q"], url=server.url, imports=["tests.tasks"], grace=0):
            server.stop()
            await asyncio.sleep(1.0)
            server.start()
            for _ in range(100):
                if any("works again after" in m for m in messages(caplog)):
                    break
                await asyncio.sleep(0.1)
    finally:
        server.close()
    back = [m for m in messages(caplog, logging.WARNING) if "works again after" in m]
    assert back, messages(caplog)
    assert back[0].endswith("s (Redis is back)")


async def test_every_job_step_is_an_event_on_the_worker_stream(
    queue: AsyncQueue, redis_url: str
) -> None:
    seen: list[Event] = []
    worker = Worker([queue.name], url=redis_url, imports=["tests.tasks"], burst=True)
    worker.events.subscribe(seen.append)
    ok = await queue.enqueue(tasks.add, 1, 2)
    bad = await queue.enqueue(tasks.fail, "no")
    await asyncio.wait_for(worker.run(install_signal_handlers=False), 30)
    with pytest.raises(JobFailed):
        await bad.result(timeout=1)
    kinds = [(e.kind, e.job_id, e.outcome) for e in seen if e.job_id]
    assert ("job.started", ok.id, None) in kinds
    assert ("job.ran", ok.id, "finished") in kinds
    assert ("job.recorded", ok.id, "finished") in kinds
    assert ("job.ran", bad.id, "failed") in kinds
    assert [e.kind for e in seen if not e.job_id] == ["worker.started", "worker.stopped"]
    ran = next(e for e in seen if e.kind == "job.ran" and e.job_id == bad.id)
    assert ran.data["exc_type"] == "ValueError" and ran.duration is not None
