"""OpenTelemetry: trace context from the producer into the job and into the jobs it
enqueues, enqueue and run spans, collected with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from redis.asyncio import Redis

from aqueue import AsyncQueue, Queue, Retry
from aqueue.observe import hooks
from aqueue.observe.tracing import instrument, instrument_worker, uninstrument
from tests import observe_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A tracer provider of the test's own (the global one can be set only once), its
    finished spans in memory; tracing is turned off again afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    uninstrument()
    provider.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


async def test_a_job_enqueued_inside_a_span_carries_a_w3c_traceparent(
        queue: AsyncQueue, redis: Redis,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("request"):
        job = await queue.enqueue(observe_tasks.noop)
    (enqueue,) = named(exporter, f"enqueue {queue.name}")
    trace_id, span_id = ids(enqueue)
    stored = await redis.hget(queue.keys.job(job.id), "traceparent")
    assert isinstance(stored, bytes)
    version, stored_trace, stored_parent, flags = stored.decode().split("-")
    assert (version, stored_trace, stored_parent) == ("00", trace_id, span_id)
    assert int(flags, 16) & 1  # sampled
    assert enqueue.kind is SpanKind.PRODUCER
    assert enqueue.attributes is not None
    assert enqueue.attributes["messaging.destination.name"] == queue.name
    assert enqueue.attributes["messaging.message.id"] == job.id
    assert enqueue.attributes["aqueue.function"] == "tests.observe_tasks.noop"


async def test_no_span_and_no_field_when_no_span_is_current(
        queue: AsyncQueue, redis: Redis,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    job = await queue.enqueue(observe_tasks.noop)
    assert await redis.hget(queue.keys.job(job.id), "traceparent") is None
    assert exporter.get_finished_spans() == ()


async def test_nothing_is_written_while_tracing_is_off(
        queue: AsyncQueue, redis: Redis,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    assert hooks.enqueue_tracer is None
    with provider.get_tracer("test").start_as_current_span("request"):
        job = await queue.enqueue(observe_tasks.noop)
    assert await redis.hget(queue.keys.job(job.id), "traceparent") is None
    assert [s.name for s in exporter.get_finished_spans()] == ["request"]


def test_the_sync_queue_carries_the_trace_too(
        redis_url: str, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with Queue("sync-traced", url=redis_url) as queue, \
            provider.get_tracer("test").start_as_current_span("request"):
        job = queue.enqueue(observe_tasks.noop)
    (enqueue,) = named(exporter, "enqueue sync-traced")
    with redis_lib.Redis.from_url(redis_url) as client:
        stored = client.hget(queue.keys.job(job.id), "traceparent")
    assert isinstance(stored, bytes) and stored.startswith(f"00-{ids(enqueue)[0]}-".encode())


async def test_a_bulk_enqueue_is_one_span_whose_context_every_job_carries(
        queue: AsyncQueue, redis: Redis,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("request"):
        jobs = await queue.enqueue_many([queue.prepare(observe_tasks.noop) for _ in range(3)])
    (enqueue,) = named(exporter, f"enqueue {queue.name}")
    assert enqueue.attributes is not None
    assert enqueue.attributes["messaging.batch.message_count"] == 3
    parents = {(await redis.hget(queue.keys.job(job.id), "traceparent") or b"")[:52]
               for job in jobs}
    assert parents == {f"00-{ids(enqueue)[0]}-{ids(enqueue)[1]}".encode()}


async def test_the_run_span_is_a_child_of_the_enqueue_span_and_current_in_the_job(
        queue: AsyncQueue, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("request"):
        job = await queue.enqueue(observe_tasks.trace_ids)
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        instrument_worker(worker, tracer_provider=provider)
        seen_in_job = await job.result(timeout=10)
    (enqueue,) = named(exporter, f"enqueue {queue.name}")
    (run,) = named(exporter, "run tests.observe_tasks.trace_ids")
    assert run.parent is not None and enqueue.context is not None
    assert run.parent.span_id == enqueue.context.span_id
    assert seen_in_job == list(ids(run))
    assert run.kind is SpanKind.CONSUMER
    assert run.attributes is not None
    assert run.attributes["messaging.destination.name"] == queue.name
    assert run.attributes["aqueue.attempt"] == 1
    assert run.attributes["aqueue.outcome"] == "finished"


async def test_the_run_span_is_current_in_a_plain_def_jobs_thread(
        queue: AsyncQueue, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("request"):
        job = await queue.enqueue(observe_tasks.trace_ids_in_thread)
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        instrument_worker(worker, tracer_provider=provider)
        seen_in_thread = await job.result(timeout=10)
    (run,) = named(exporter, "run tests.observe_tasks.trace_ids_in_thread")
    assert seen_in_thread == list(ids(run))


async def test_a_job_enqueued_by_a_job_joins_the_trace(
        queue: AsyncQueue, redis_url: str, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    instrument(tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("request") as request:
        parent = await queue.enqueue(observe_tasks.enqueue_child, redis_url, queue.name)
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        instrument_worker(worker, tracer_provider=provider)
        child_id = await parent.result(timeout=10)
        await (await queue.fetch_job(child_id)).result(timeout=10)
    (parent_run,) = named(exporter, "run tests.observe_tasks.enqueue_child")
    (child_run,) = named(exporter, "run tests.observe_tasks.noop")
    child_enqueue = next(s for s in named(exporter, f"enqueue {queue.name}")
                         if s.attributes and s.attributes["messaging.message.id"] == child_id)
    assert child_enqueue.parent is not None and parent_run.context is not None
    assert child_enqueue.parent.span_id == parent_run.context.span_id
    assert child_run.parent is not None and child_enqueue.context is not None
    assert child_run.parent.span_id == child_enqueue.context.span_id
    assert {ids(s)[0] for s in (parent_run, child_enqueue, child_run)} == {
        format(request.get_span_context().trace_id, "032x")}


async def test_a_failed_run_has_an_error_status_and_the_exception(
        queue: AsyncQueue, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    await queue.enqueue(observe_tasks.fail, "broken", retry=Retry(max=1, interval=0))
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        instrument_worker(worker, tracer_provider=provider)
        job_id = (await queue.queued_job_ids())[0]
        with pytest.raises(Exception, match="broken"):
            await (await queue.fetch_job(job_id)).result(timeout=10)
    runs = named(exporter, "run tests.observe_tasks.fail")
    assert [(r.attributes or {}).get("aqueue.attempt") for r in runs] == [1, 2]
    assert [(r.attributes or {}).get("aqueue.outcome") for r in runs] == ["retry", "failed"]
    assert all(r.status.status_code is StatusCode.ERROR for r in runs)
    (exception,) = runs[-1].events
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "ValueError"
    assert exception.attributes["exception.message"] == "broken"


async def test_a_job_enqueued_outside_any_trace_runs_in_a_root_span(
        queue: AsyncQueue, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    job = await queue.enqueue(observe_tasks.noop)
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        instrument_worker(worker, tracer_provider=provider)
        await job.result(timeout=10)
    (run,) = named(exporter, "run tests.observe_tasks.noop")
    assert run.parent is None


async def test_a_job_handed_back_at_shutdown_ends_its_span_as_requeued(
        queue: AsyncQueue, running_worker: WorkerFactory,
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    await queue.enqueue(observe_tasks.nap, 30)
    async with running_worker(queue.name, imports=["tests.observe_tasks"], grace=0) as worker:
        instrument_worker(worker, tracer_provider=provider)
        while (await queue.counts()).started == 0:
            await asyncio.sleep(0.01)
    (run,) = named(exporter, "run tests.observe_tasks.nap")
    assert run.attributes is not None and run.attributes["aqueue.outcome"] == "requeue"


def test_importing_aqueue_loads_neither_tracing_nor_metrics() -> None:
    # (redis-py itself imports opentelemetry when it is installed: not checked here.)
    code = ("import sys, aqueue, aqueue.client.async_queue, aqueue.worker.worker, aqueue.cli; "
            "print(sorted(m for m in sys.modules if m in ('aqueue.observe.tracing', "
            "'aqueue.observe.metrics', 'aqueue.observe.exposition') or "
            "m.startswith('prometheus_client')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_the_global_tracer_provider_is_used_by_default() -> None:
    instrument()
    try:
        assert hooks.enqueue_tracer is not None
        assert trace.get_tracer_provider() is not None
    finally:
        uninstrument()
    assert hooks.enqueue_tracer is None


async def test_a_worker_started_with_otel_runs_its_jobs(queue: AsyncQueue, redis_url: str,
                                                        redis: Redis) -> None:
    job = await queue.enqueue(observe_tasks.noop)
    done = subprocess.run(
        [sys.executable, "-m", "aqueue", "worker", queue.name, "--url", redis_url, "--import",
         "tests.observe_tasks", "--burst", "--otel"], cwd=ROOT, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert await redis.hget(queue.keys.job(job.id), "status") == b"finished"
