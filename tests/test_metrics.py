"""Worker metrics, scraped over HTTP from the worker's own endpoint: `aqueue worker
--metrics-port` processes, and in-process workers given `metrics=WorkerMetrics(...)`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from aqueue import AsyncQueue, Retry, Worker
from aqueue.events import Event
from aqueue.observe.metrics import MAX_SERIES, OTHER, WorkerMetrics
from tests import observe_tasks
from tests.conftest import WorkerFactory
from tests.redis_servers import free_port
from tests.scrape import Samples, parse, scrape, scrape_until, value

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
NOOP = "tests.observe_tasks.noop"
FAIL = "tests.observe_tasks.fail"
NAP = "tests.observe_tasks.nap"


@pytest.fixture
def worker_process(redis_url: str) -> Iterator[list[subprocess.Popen[str]]]:
    """Started `aqueue worker` processes, stopped (SIGTERM) at the end of the test."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
        process.communicate(timeout=30)


def start_worker(processes: list[subprocess.Popen[str]], redis_url: str, *args: str
                 ) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", *args, "--url", redis_url, "--import",
         "tests.observe_tasks"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    processes.append(process)
    return process


@pytest.fixture
async def metrics() -> AsyncIterator[tuple[WorkerMetrics, int]]:
    """Metrics for an in-process worker, sampling every 0.1 s, served on a free port."""
    worker_metrics = WorkerMetrics(sample_interval=0.1)
    port = worker_metrics.serve(0)
    yield worker_metrics, port
    worker_metrics.close()


async def scrape_in_thread(port: int, name: str, expected: float, **labels: str) -> Samples:
    return await anyio.to_thread.run_sync(lambda: scrape_until(port, name, expected, **labels))


# -- the worker process -------------------------------------------------------------------


async def test_a_worker_process_counts_jobs_by_queue_function_and_outcome(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    for _ in range(5):
        await queue.enqueue(observe_tasks.noop)
    await queue.enqueue(observe_tasks.fail, "boom")
    start_worker(worker_process, redis_url, queue.name, "--metrics-port", str(port))
    samples = await anyio.to_thread.run_sync(lambda: scrape_until(
        port, "aqueue_job_outcomes_total", 1, queue=queue.name, function=FAIL, outcome="failed"))
    samples = await anyio.to_thread.run_sync(lambda: scrape_until(
        port, "aqueue_job_outcomes_total", 5, queue=queue.name, function=NOOP, outcome="finished"))
    assert value(samples, "aqueue_jobs_started_total", queue=queue.name, function=NOOP) == 5
    assert value(samples, "aqueue_jobs_started_total", queue=queue.name, function=FAIL) == 1
    assert value(samples, "aqueue_job_outcomes_total", queue=queue.name, function=NOOP,
                 outcome="failed") == 0
    assert value(samples, "aqueue_job_duration_seconds_count", queue=queue.name,
                 function=NOOP) == 5


async def test_a_worker_process_exports_its_queues_and_itself(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    await queue.enqueue_in(3600, observe_tasks.noop)
    start_worker(worker_process, redis_url, queue.name, "--metrics-port", str(port),
                 "--name", "metered", "--concurrency", "7")
    samples = await anyio.to_thread.run_sync(lambda: scrape_until(
        port, "aqueue_queue_jobs", 1, queue=queue.name, state="scheduled"))
    assert value(samples, "aqueue_queue_jobs", queue=queue.name, state="queued") == 0
    assert value(samples, "aqueue_worker_info", worker="metered", queues=queue.name) == 1
    assert value(samples, "aqueue_worker_concurrency") == 7
    assert value(samples, "process_cpu_seconds_total") is not None


async def test_metrics_listen_on_loopback_only_by_default(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    start_worker(worker_process, redis_url, queue.name, "--metrics-port", str(port))
    await anyio.to_thread.run_sync(lambda: scrape_until(port, "aqueue_worker_concurrency", 1))
    with pytest.raises(OSError):
        scrape(port, host="127.0.0.2")  # another loopback address: not listened on


async def test_metrics_host_chooses_the_address_listened_on(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    start_worker(worker_process, redis_url, queue.name, "--metrics-port", str(port),
                 "--metrics-host", "127.0.0.2")

    def up() -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                return "aqueue_worker_concurrency" in str(scrape(port, host="127.0.0.2"))
            except OSError:
                time.sleep(0.05)
        return False

    assert await anyio.to_thread.run_sync(up)
    with pytest.raises(OSError):
        scrape(port)


async def test_a_metrics_port_in_use_stops_the_worker_with_a_clear_error(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_worker(worker_process, redis_url, queue.name, "--metrics-port",
                               str(port))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"error: cannot serve metrics on 127.0.0.1:{port}: " in stderr
    assert "Address already in use" in stderr


def two_free_ports() -> int:
    """A port whose next one is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


async def test_each_process_of_a_supervisor_serves_metrics_on_its_own_port(
        queue: AsyncQueue, redis_url: str, worker_process: list[subprocess.Popen[str]]) -> None:
    port = two_free_ports()
    start_worker(worker_process, redis_url, queue.name, "--processes", "2", "--name", "pool",
                 "--metrics-port", str(port))
    first = await anyio.to_thread.run_sync(lambda: scrape_until(
        port, "aqueue_worker_info", 1, worker="pool.1", queues=queue.name))
    second = await anyio.to_thread.run_sync(lambda: scrape_until(
        port + 1, "aqueue_worker_info", 1, worker="pool.2", queues=queue.name))
    assert value(first, "aqueue_worker_info", worker="pool.2", queues=queue.name) is None
    assert value(second, "aqueue_worker_info", worker="pool.1", queues=queue.name) is None


# -- what an in-process worker reports -------------------------------------------------------


async def test_run_times_land_in_the_duration_histogram(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    jobs = [await queue.enqueue(observe_tasks.nap, 0.15) for _ in range(3)]
    async with running_worker(queue.name, imports=["tests.observe_tasks"],
                              metrics=worker_metrics):
        for job in jobs:
            await job.result(timeout=10)
        samples = await scrape_in_thread(port, "aqueue_job_duration_seconds_count", 3,
                                         queue=queue.name, function=NAP)
    bucket = "aqueue_job_duration_seconds_bucket"
    assert value(samples, bucket, queue=queue.name, function=NAP, le="0.1") == 0
    assert value(samples, bucket, queue=queue.name, function=NAP, le="0.25") == 3
    assert value(samples, bucket, queue=queue.name, function=NAP, le="+Inf") == 3
    total = value(samples, "aqueue_job_duration_seconds_sum", queue=queue.name, function=NAP)
    assert total is not None and 0.45 <= total < 0.75


async def test_a_retried_job_counts_one_retry_then_one_failure(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    await queue.enqueue(observe_tasks.fail, "again", retry=Retry(max=1, interval=0))
    async with running_worker(queue.name, imports=["tests.observe_tasks"],
                              metrics=worker_metrics):
        samples = await scrape_in_thread(port, "aqueue_job_outcomes_total", 1,
                                         queue=queue.name, function=FAIL, outcome="failed")
    assert value(samples, "aqueue_job_outcomes_total", queue=queue.name, function=FAIL,
                 outcome="retry") == 1
    assert value(samples, "aqueue_jobs_started_total", queue=queue.name, function=FAIL) == 2


async def test_a_job_handed_back_at_shutdown_counts_as_requeue(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    await queue.enqueue(observe_tasks.nap, 30)
    async with running_worker(queue.name, imports=["tests.observe_tasks"], grace=0,
                              metrics=worker_metrics):
        await scrape_in_thread(port, "aqueue_jobs_started_total", 1, queue=queue.name,
                               function=NAP)
    samples = await scrape_in_thread(port, "aqueue_job_outcomes_total", 1, queue=queue.name,
                                     function=NAP, outcome="requeue")
    assert value(samples, "aqueue_job_outcomes_total", queue=queue.name, function=NAP,
                 outcome="finished") == 0


async def test_the_sampler_reports_queue_depths_and_the_oldest_jobs_wait(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    await queue.enqueue(observe_tasks.nap, 30)
    await queue.enqueue_in(3600, observe_tasks.noop)
    async with running_worker(queue.name, imports=["tests.observe_tasks"], concurrency=1,
                              grace=0, metrics=worker_metrics):
        await scrape_in_thread(port, "aqueue_queue_jobs", 1, queue=queue.name, state="started")
        await queue.enqueue(observe_tasks.noop)
        await queue.enqueue(observe_tasks.noop)
        await asyncio.sleep(0.3)
        samples = await scrape_in_thread(port, "aqueue_queue_jobs", 2, queue=queue.name,
                                         state="queued")
    assert value(samples, "aqueue_queue_jobs", queue=queue.name, state="scheduled") == 1
    oldest = value(samples, "aqueue_queue_oldest_job_age_seconds", queue=queue.name)
    assert oldest is not None and 0.2 <= oldest < 5


async def test_job_threads_show_busy_and_stuck_threads(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    await queue.enqueue(observe_tasks.thread_nap, 3)
    await queue.enqueue(observe_tasks.thread_nap, 3, job_timeout=0.2)  # its thread outlives it
    async with running_worker(queue.name, imports=["tests.observe_tasks"], threads=4, grace=0,
                              metrics=worker_metrics):
        samples = await scrape_in_thread(port, "aqueue_job_outcomes_total", 1,
                                         queue=queue.name, function="tests.observe_tasks."
                                         "thread_nap", outcome="failed")
    assert value(samples, "aqueue_job_threads_limit") == 4
    assert value(samples, "aqueue_job_threads_busy") == 1
    assert value(samples, "aqueue_job_threads_stuck") == 1


async def test_a_blocked_event_loop_shows_while_it_is_blocked_and_after(
        queue: AsyncQueue, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    async with running_worker(queue.name, imports=["tests.observe_tasks"], lease=1.2,
                              metrics=worker_metrics):
        # Scraped from a thread while the loop is stuck: the HTTP server does not need it.
        during = asyncio.ensure_future(
            scrape_in_thread(port, "aqueue_event_loop_blocked_seconds", 0.5))
        await asyncio.sleep(0.2)
        await queue.enqueue(observe_tasks.block_loop_on_first_delivery, 1.5)
        blocked = await during
        after = await scrape_in_thread(port, "aqueue_event_loop_stalls_total", 1)
    assert value(blocked, "aqueue_job_outcomes_total", queue=queue.name,
                 function="tests.observe_tasks.block_loop_on_first_delivery",
                 outcome="finished") == 0
    late = "aqueue_event_loop_lag_seconds_bucket"
    ticks = value(after, late, le="+Inf") or 0
    assert ticks > 0
    assert (value(after, late, le="1.0") or 0) < ticks  # one tick ran over a second late


def run_worker_in_thread(url: str, queue_name: str, lease: float
                         ) -> tuple[threading.Thread, threading.Event]:
    """Another worker with an event loop of its own, in a thread: it keeps running while
    the test's loop is blocked. Set the event to stop it."""
    stop = threading.Event()

    async def main() -> None:
        worker = Worker([queue_name], url=url, imports=["tests.observe_tasks"], lease=lease)
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        await asyncio.to_thread(stop.wait)
        worker.stop()
        await task

    return threading.Thread(target=asyncio.run, args=(main(),), daemon=True), stop


async def test_an_outcome_refused_after_the_lease_was_lost_counts_as_rejected(
        queue: AsyncQueue, redis_url: str, running_worker: WorkerFactory,
        metrics: tuple[WorkerMetrics, int]) -> None:
    worker_metrics, port = metrics
    other, stop_other = run_worker_in_thread(redis_url, queue.name, lease=1.0)
    function = "tests.observe_tasks.block_loop_on_first_delivery"
    try:
        async with running_worker(queue.name, imports=["tests.observe_tasks"], lease=1.0,
                                  metrics=worker_metrics) as worker:
            def start_the_other_worker(event: Event) -> None:
                if event.kind == "job.started" and not other.is_alive():
                    other.start()  # this worker has the job (and will block): now the other

            worker.events.subscribe(start_the_other_worker)
            job = await queue.enqueue(observe_tasks.block_loop_on_first_delivery, 3)
            assert await job.result(timeout=20) == "ran again"  # by the other worker
            samples = await scrape_in_thread(port, "aqueue_acks_rejected_total", 1,
                                             queue=queue.name, function=function,
                                             reason="lease_lost")
    finally:
        stop_other.set()
        await anyio.to_thread.run_sync(lambda: other.join(30) if other.is_alive() else None)
    assert value(samples, "aqueue_job_outcomes_total", queue=queue.name, function=function,
                 outcome="finished") == 0


# -- the listener on its own ----------------------------------------------------------------


def test_past_the_series_limit_new_functions_count_as_other() -> None:
    worker_metrics = WorkerMetrics()
    for i in range(MAX_SERIES + 10):
        worker_metrics.on_event(Event("job.started", "w", "q", f"id{i}", f"fn{i}", 1))
    samples = parse_collected(worker_metrics)
    started = {dict(labels)["function"] for (name, labels) in samples
               if name == "aqueue_jobs_started_total"}
    assert len(started) == MAX_SERIES + 1
    assert value(samples, "aqueue_jobs_started_total", queue="q", function=OTHER) == 10


def test_one_worker_metrics_cannot_feed_two_workers() -> None:
    worker_metrics = WorkerMetrics()
    Worker(["a"], url="redis://127.0.0.1:1/0", metrics=worker_metrics)
    with pytest.raises(ValueError, match="already belong to worker"):
        Worker(["b"], url="redis://127.0.0.1:1/0", metrics=worker_metrics)


def parse_collected(worker_metrics: WorkerMetrics) -> Samples:
    from prometheus_client import generate_latest

    return parse(generate_latest(worker_metrics.registry).decode())
