"""Queue-level metrics for the dashboard: ``QueueExporter`` over ``AsyncAdmin``, and the
ASGI app that serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aqueue import AsyncQueue
from aqueue.client.admin import AsyncAdmin
from aqueue.observe.exposition import QueueExporter, metrics_app
from tests import observe_tasks
from tests.conftest import BurstRunner, WorkerFactory
from tests.scrape import Samples, parse, value

pytestmark = pytest.mark.anyio


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[AsyncAdmin]:
    async with AsyncAdmin(url=redis_url) as a:
        yield a


async def exported(exporter: QueueExporter) -> Samples:
    body, _ = await exporter.exposition()
    return parse(body.decode())


async def test_depths_per_state_and_the_oldest_jobs_wait(
        queue: AsyncQueue, admin: AsyncAdmin, run_burst: BurstRunner) -> None:
    await queue.enqueue(observe_tasks.fail, "kept in the failed registry")
    await run_burst(queue.name, imports=["tests.observe_tasks"])
    await queue.enqueue(observe_tasks.noop)
    await queue.enqueue(observe_tasks.noop)
    await queue.enqueue_in(3600, observe_tasks.noop)
    await asyncio.sleep(0.2)
    samples = await exported(QueueExporter(admin, [queue.name]))
    depth = {state: value(samples, "aqueue_queue_jobs", queue=queue.name, state=state)
             for state in ("queued", "scheduled", "started", "failed")}
    assert depth == {"queued": 2, "scheduled": 1, "started": 0, "failed": 1}
    oldest = value(samples, "aqueue_queue_oldest_job_age_seconds", queue=queue.name)
    assert oldest is not None and 0.2 <= oldest < 5


async def test_an_empty_queue_has_waited_zero_seconds(
        queue: AsyncQueue, admin: AsyncAdmin) -> None:
    await queue.enqueue_in(3600, observe_tasks.noop)  # a scheduled job is not waiting yet
    samples = await exported(QueueExporter(admin, [queue.name]))
    assert value(samples, "aqueue_queue_oldest_job_age_seconds", queue=queue.name) == 0


async def test_a_delayed_job_waits_from_when_it_was_due(
        queue: AsyncQueue, admin: AsyncAdmin, redis_url: str) -> None:
    job = await queue.enqueue(observe_tasks.noop)
    async with AsyncQueue(queue.name, url=redis_url) as raw:  # enqueued an hour ago, due now
        await raw.store.call("HSET", queue.keys.job(job.id), "enqueued_at", job.enqueued_at - 3600,
                             "scheduled_for", job.enqueued_at, key=queue.keys.queued)
    age = await admin.oldest_queued_age(queue.name)
    assert age is not None and age < 60


async def test_outcome_totals_per_queue(
        queue: AsyncQueue, admin: AsyncAdmin, run_burst: BurstRunner) -> None:
    for _ in range(3):
        await queue.enqueue(observe_tasks.noop)
    await queue.enqueue(observe_tasks.fail, "once")
    await run_burst(queue.name, imports=["tests.observe_tasks"])
    samples = await exported(QueueExporter(admin, [queue.name]))
    assert value(samples, "aqueue_queue_outcomes_total", queue=queue.name,
                 outcome="finished") == 3
    assert value(samples, "aqueue_queue_outcomes_total", queue=queue.name, outcome="failed") == 1


async def test_live_workers_per_queue(
        queue: AsyncQueue, admin: AsyncAdmin, running_worker: WorkerFactory) -> None:
    async with running_worker(queue.name, imports=["tests.observe_tasks"], name="seen") as w:
        await w.started.wait()
        samples = await exported(QueueExporter(admin, [queue.name, "unserved"]))
    assert value(samples, "aqueue_workers_live") == 1
    assert value(samples, "aqueue_queue_workers", queue=queue.name) == 1
    assert value(samples, "aqueue_queue_workers", queue="unserved") == 0
    assert value(samples, "aqueue_worker_jobs_in_flight", worker="seen") == 0


async def test_without_a_list_it_exports_every_queue_it_finds(
        queue: AsyncQueue, admin: AsyncAdmin) -> None:
    await queue.enqueue(observe_tasks.noop)
    samples = await exported(QueueExporter(admin))
    assert value(samples, "aqueue_queue_jobs", queue=queue.name, state="queued") == 1


async def test_redis_is_read_at_most_once_per_min_interval(
        queue: AsyncQueue, admin: AsyncAdmin) -> None:
    exporter = QueueExporter(admin, [queue.name], min_interval=0.5)
    await exported(exporter)
    await queue.enqueue(observe_tasks.noop)
    cached = await exported(exporter)
    await asyncio.sleep(0.5)
    fresh = await exported(exporter)
    assert value(cached, "aqueue_queue_jobs", queue=queue.name, state="queued") == 0
    assert value(fresh, "aqueue_queue_jobs", queue=queue.name, state="queued") == 1


async def test_openmetrics_is_served_when_asked_for(
        queue: AsyncQueue, admin: AsyncAdmin) -> None:
    body, content_type = await QueueExporter(admin, [queue.name]).exposition(
        "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


async def call_asgi(app: Any, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request through an ASGI app, as a server would make it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": "/metrics",
               "headers": [(b"accept", b"text/plain")]}, receive, send)
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"]


async def test_the_asgi_app_serves_the_metrics(queue: AsyncQueue, admin: AsyncAdmin) -> None:
    await queue.enqueue(observe_tasks.noop)
    status, headers, body = await call_asgi(metrics_app(QueueExporter(admin, [queue.name])))
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain")
    assert value(parse(body.decode()), "aqueue_queue_jobs", queue=queue.name,
                 state="queued") == 1


async def test_the_asgi_app_answers_503_while_redis_is_unreachable() -> None:
    async with AsyncAdmin(url="redis://127.0.0.1:1/0") as unreachable:
        status, _, body = await call_asgi(metrics_app(QueueExporter(unreachable, ["q"])))
    assert status == 503
    assert body.startswith(b"cannot read the queues: ")


async def test_the_asgi_app_refuses_other_methods(admin: AsyncAdmin) -> None:
    status, headers, _ = await call_asgi(metrics_app(QueueExporter(admin, ["q"])), "POST")
    assert status == 405
    assert headers[b"allow"] == b"GET, HEAD"
