"""A worker's Prometheus metrics: ``Worker(..., metrics=WorkerMetrics())``, or
``aqueue worker --metrics-port N``. Names and meanings: docs/metrics.md.

Three sources, so that the worker's hot path pays only for a few integer increments:

- a listener on the worker's event stream counts job starts, outcomes, run times, lease
  losses and rejected acks in plain Python counters (no locks, no label lookups);
- a sampler task in the worker's event loop reads its queues' depths, totals and oldest
  job every ``sample_interval`` seconds; the watchdog reports each tick's lag;
- a collector turns all of it into metric families when Prometheus scrapes, in the HTTP
  server's thread, without touching Redis or the event loop.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from redis.exceptions import RedisError

from aqueue.client.admin import AsyncAdmin
from aqueue.errors import AqueueError
from aqueue.events import Event
from aqueue.observe.exposition import queue_families
from aqueue.observe.sampling import QueueSample, sample_queues
from aqueue.plugins.base import PluginContext

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from aqueue.worker.worker import Worker

logger = logging.getLogger("aqueue.metrics")

# Seconds; +Inf is added. From no-op coroutines to the 30-minute default job timeout.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0, 300.0, 1800.0)
# Seconds an event loop tick (every 0.1 s) ran late; +Inf is added.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MAX_SERIES = 500  # (queue, function) pairs; past it, jobs count under function="(other)"
OTHER = "(other)"
DEFAULT_SAMPLE_INTERVAL = 5.0


class _JobSeries:
    """The counters of one (queue, function), bumped in the event loop's thread."""

    __slots__ = ("buckets", "duration_sum", "lease_lost", "outcomes", "rejected", "started")

    def __init__(self) -> None:
        self.started = 0
        # Zeros from the start, so that rates and ratios exist before the first failure.
        self.outcomes: dict[str, int] = dict.fromkeys(("finished", "failed", "retry",
                                                       "requeue"), 0)
        self.rejected: dict[str, int] = {"lease_lost": 0, "job_gone": 0}
        self.lease_lost = 0
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0


class WorkerMetrics:
    """The metrics of one worker, in ``registry`` (default: a registry of its own, with
    the process and platform collectors). ``serve(port)`` exposes them over HTTP."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 sample_interval: float = DEFAULT_SAMPLE_INTERVAL) -> None:
        if not sample_interval > 0:
            raise ValueError(f"sample_interval must be positive, got {sample_interval}")
        self.sample_interval = sample_interval
        self.worker: Worker | None = None
        self.samples: list[QueueSample] = []
        self._lag_buckets = [0] * (len(LAG_BUCKETS) + 1)
        self._lag_sum = 0.0
        self._series: dict[tuple[str | None, str | None], _JobSeries] = {}
        self._server: WSGIServer | None = None
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.registry = registry
        registry.register(self)

    # -- wiring --------------------------------------------------------------------------

    def attach(self, worker: Worker) -> None:
        """Listen to ``worker``'s events and sample its queues while it runs (``Worker``
        calls this for ``metrics=``)."""
        if self.worker is not None:
            raise ValueError(f"these metrics already belong to worker {self.worker.name}; "
                             "give each worker a WorkerMetrics of its own")
        self.worker = worker
        worker.events.subscribe(self.on_event)
        worker.plugins.append(_Sampler(self))
        worker.watchdog.on_lag = self._observe_lag

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (port 0: any free
        port); returns the port. ``OSError`` if it cannot listen there."""
        if self._server is not None:
            raise RuntimeError(f"already serving on port {self._server.server_port}")
        self._server, _ = _start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving (if ``serve`` was called)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the event listener (the event loop's thread) -------------------------------------

    def on_event(self, event: Event) -> None:
        """The worker event listener."""
        # Inline, no helper calls: this runs three times per job on the worker's hot path
        # (and a bound method is called faster than an instance's __call__).
        kind = event.kind
        if kind == "job.started":
            series = self._series.get((event.queue, event.func)) or self._new_series(event)
            series.started += 1
        elif kind == "job.ran":
            duration = event.duration
            if duration is not None:  # None: it failed before its function was called
                series = self._series.get((event.queue, event.func)) or self._new_series(event)
                series.buckets[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
                series.duration_sum += duration
        elif kind == "job.recorded":
            series = self._series.get((event.queue, event.func)) or self._new_series(event)
            outcome = event.outcome or "unknown"
            if outcome == "rejected":
                series.rejected["lease_lost"] += 1
            elif outcome == "gone":
                series.rejected["job_gone"] += 1
            else:
                outcomes = series.outcomes
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        elif kind == "lease.lost":
            series = self._series.get((event.queue, event.func)) or self._new_series(event)
            series.lease_lost += 1

    def _observe_lag(self, lag: float) -> None:
        self._lag_buckets[bisect.bisect_left(LAG_BUCKETS, lag)] += 1
        self._lag_sum += lag

    def _new_series(self, event: Event) -> _JobSeries:
        key = (event.queue, event.func)
        if len(self._series) >= MAX_SERIES:  # function names come from producers
            other = self._series.get((event.queue, OTHER))
            if other is not None:
                return other
            key = (event.queue, OTHER)
        series = self._series[key] = _JobSeries()
        return series

    # -- the collector (the HTTP server's thread) ------------------------------------------

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check for clashes at registration: the names are ours

    def collect(self) -> Iterable[Metric]:
        started = CounterMetricFamily("aqueue_jobs_started", "Jobs whose function this worker "
                                      "called.", labels=["queue", "function"])
        outcomes = CounterMetricFamily(
            "aqueue_job_outcomes", "Outcomes this worker recorded: finished, failed, retry "
            "(failed, to run again), requeue (handed back at shutdown).",
            labels=["queue", "function", "outcome"])
        rejected = CounterMetricFamily(
            "aqueue_acks_rejected", "Outcomes Redis refused because the job was no longer "
            "this worker's: lease_lost (handed to another worker), job_gone (deleted).",
            labels=["queue", "function", "reason"])
        lease_lost = CounterMetricFamily("aqueue_lease_lost", "Jobs whose lease renewal found "
                                         "another worker's claim.", labels=["queue", "function"])
        durations = HistogramMetricFamily("aqueue_job_duration_seconds", "Run time of the job's "
                                          "function.", labels=["queue", "function"])
        for (queue, function), series in list(self._series.items()):
            labels = [queue or "", function or ""]
            started.add_metric(labels, series.started)
            for outcome, count in list(series.outcomes.items()):
                outcomes.add_metric([*labels, outcome], count)
            for reason, count in list(series.rejected.items()):
                rejected.add_metric([*labels, reason], count)
            lease_lost.add_metric(labels, series.lease_lost)
            durations.add_metric(labels, _cumulative(DURATION_BUCKETS, series.buckets),
                                 series.duration_sum)
        yield from (started, outcomes, rejected, lease_lost, durations)
        yield from queue_families(self.samples)
        if self.worker is not None:
            yield from self._worker_families(self.worker)

    def _worker_families(self, worker: Worker) -> Iterable[Metric]:
        info = GaugeMetricFamily("aqueue_worker_info", "This worker: its name and queues.",
                                 labels=["worker", "queues"])
        info.add_metric([worker.name, ",".join(q.name for q in worker.queues)], 1)
        yield info
        yield _gauge("aqueue_worker_concurrency", "Jobs the worker runs at once, at most.",
                     worker.concurrency)
        yield _gauge("aqueue_worker_jobs_in_flight", "Jobs claimed whose outcome is not yet "
                     "written.", len(worker.acker.inflight))
        threads = worker.threads
        yield _gauge("aqueue_job_threads_limit", "Threads for plain def jobs, at most.",
                     threads.limit)
        yield _gauge("aqueue_job_threads_busy", "Threads running a plain def job within its "
                     "timeout.", len(threads.running) - len(threads.stuck))
        yield _gauge("aqueue_job_threads_stuck", "Threads still running a plain def job that "
                     "already ended (past its timeout): Python cannot stop them, and each "
                     "keeps its place among the --threads until it returns.",
                     len(threads.stuck))
        lag = HistogramMetricFamily("aqueue_event_loop_lag_seconds", "How late the event loop "
                                    "ran a timer, measured 10 times a second by the watchdog.")
        lag.add_metric([], _cumulative(LAG_BUCKETS, self._lag_buckets), self._lag_sum)
        yield lag
        yield _gauge("aqueue_event_loop_blocked_seconds", "How long the event loop has been "
                     "stuck right now (0 while it runs freely).",
                     worker.watchdog.blocked_for())
        stalls = CounterMetricFamily("aqueue_event_loop_stalls", "Times the watchdog found the "
                                     "event loop blocked for a third of the lease or more.")
        stalls.add_metric([], worker.watchdog.stalls)
        yield stalls


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Prometheus buckets (``le``, count at or below) from per-bucket counts."""
    total, buckets = 0, []
    for bound, count in zip([*map(repr, bounds), "+Inf"], list(counts), strict=True):
        total += count
        buckets.append((bound, float(total)))
    return buckets


class _Sampler:
    """A worker plugin: every ``sample_interval`` seconds, read the worker's queues into
    the metrics. On Redis errors the queue readings are dropped (so
    stale depths are not reported) until a read succeeds again."""

    name = "metrics-sampler"

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    async def run(self, context: PluginContext) -> None:
        admin = AsyncAdmin(store=context.store)
        names = [q.name for q in context.queues]
        failing = False
        while True:
            started = time.monotonic()
            try:
                self.metrics.samples = await sample_queues(admin, names)
                if failing:
                    logger.info("metrics: reading the queues works again")
                failing = False
            except (AqueueError, RedisError, OSError) as exc:
                self.metrics.samples = []
                if not failing:
                    logger.warning("metrics: cannot read the queues' depths: %s", exc)
                failing = True
            await asyncio.sleep(max(0.0, self.metrics.sample_interval
                                    - (time.monotonic() - started)))
