"""Queue-level Prometheus metrics, for whichever process looks at the queues (the
dashboard): depths per state, the oldest job's age, outcome totals and live workers, read
through ``AsyncAdmin``.

``QueueExporter(admin).exposition()`` returns the text to serve; ``metrics_app(exporter)``
is an ASGI app that serves it (mount it at ``/metrics``). A worker exports the same
``aqueue_queue_*`` families for its own queues (``aqueue.observe.metrics``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.errors import AqueueError
from aqueue.observe.sampling import QueueSample, sample_queues, workers_by_queue

STATES = ("queued", "scheduled", "started", "failed")


def queue_families(samples: Sequence[QueueSample]) -> list[Metric]:
    """``aqueue_queue_jobs``, ``aqueue_queue_oldest_job_age_seconds`` and
    ``aqueue_queue_outcomes_total`` for these readings."""
    jobs = GaugeMetricFamily(
        "aqueue_queue_jobs", "Jobs of the queue in each state (failed: kept in its failed "
        "registry; scheduled includes jobs waiting to be retried).", labels=["queue", "state"])
    oldest = GaugeMetricFamily(
        "aqueue_queue_oldest_job_age_seconds", "How long the next queued job has been ready "
        "to run (0 when nothing is queued).", labels=["queue"])
    outcomes = CounterMetricFamily(
        "aqueue_queue_outcomes", "Outcomes recorded for the queue's jobs by all its workers "
        "since the queue was first used.", labels=["queue", "outcome"])
    for sample in samples:
        counts, totals = sample.counts, sample.totals
        for state in STATES:
            jobs.add_metric([sample.name, state], getattr(counts, state))
        oldest.add_metric([sample.name], sample.oldest_age or 0.0)
        for outcome, value in (("finished", totals.finished), ("failed", totals.failed),
                               ("retry", totals.retried), ("requeue", totals.requeued)):
            outcomes.add_metric([sample.name, outcome], value)
    return [jobs, oldest, outcomes]


def worker_families(workers: Sequence[WorkerInfo], queues: Iterable[str]) -> list[Metric]:
    """``aqueue_workers_live``, ``aqueue_queue_workers`` and per-worker gauges."""
    live = GaugeMetricFamily("aqueue_workers_live", "Workers whose heartbeat is current.")
    live.add_metric([], sum(1 for w in workers if not w.stale))
    serving = GaugeMetricFamily("aqueue_queue_workers", "Live workers serving the queue.",
                                labels=["queue"])
    by_queue = workers_by_queue(workers)
    for queue in queues:
        serving.add_metric([queue], by_queue.get(queue, 0))
    in_flight = GaugeMetricFamily("aqueue_worker_jobs_in_flight", "Jobs the worker held at its "
                                  "last heartbeat.", labels=["worker"])
    heartbeat = GaugeMetricFamily("aqueue_worker_heartbeat_age_seconds", "Seconds since the "
                                  "worker's last heartbeat.", labels=["worker"])
    for worker in workers:
        in_flight.add_metric([worker.name], worker.in_flight)
        heartbeat.add_metric([worker.name], worker.heartbeat_age)
    return [live, serving, in_flight, heartbeat]


class QueueExporter:
    """The queue-level metrics of ``queues`` (default: every queue the admin finds).

    Redis is read when a scrape comes, at most once every ``min_interval`` seconds however
    many scrapers there are; scrapes in between get the last reading.
    """

    def __init__(self, admin: AsyncAdmin, queues: Sequence[str] | None = None, *,
                 min_interval: float = 5.0) -> None:
        if min_interval < 0:
            raise ValueError(f"min_interval must be 0 or more seconds, got {min_interval}")
        self.admin = admin
        self.queues = list(queues) if queues is not None else None
        self.min_interval = min_interval
        self._families: list[Metric] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def families(self) -> list[Metric]:
        async with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.min_interval:
                names = self.queues if self.queues is not None else await self.admin.queues()
                samples, workers = await asyncio.gather(sample_queues(self.admin, names),
                                                        self.admin.workers())
                self._families = [*queue_families(samples), *worker_families(workers, names)]
                self._read_at = now
            return self._families

    async def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics as (body, content type), in the format the ``Accept`` header asks
        for (Prometheus text by default, OpenMetrics if asked)."""
        families = await self.families()
        encode, content_type = choose_encoder(accept)
        return encode(_Families(families)), content_type


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_app(exporter: QueueExporter) -> ASGIApp:
    """An ASGI app serving the exporter's metrics on GET (at whatever path it is mounted);
    503 with the reason while Redis cannot be read."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b"use GET\n", "text/plain; charset=utf-8",
                           [(b"allow", b"GET, HEAD")])
            return
        headers = dict(scope.get("headers") or [])
        try:
            body, content_type = await exporter.exposition(
                headers.get(b"accept", b"").decode("latin-1"))
        except AqueueError as exc:
            await _respond(send, 503, f"cannot read the queues: {exc}\n".encode(),
                           "text/plain; charset=utf-8")
            return
        await _respond(send, 200, b"" if scope["method"] == "HEAD" else body, content_type)

    return app


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
