"""``aqueue demo``: thousands of jobs through a real worker process, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aqueue.client.async_queue import AsyncQueue
from aqueue.demo import tasks as demo_tasks
from aqueue.errors import ConnectionFailed
from aqueue.store.server import ping
from aqueue.store.store import Store
from aqueue.store.urls import default_url, redact

console = Console(stderr=True, soft_wrap=True)


async def run_demo(jobs: int, concurrency: int, url: str | None) -> None:
    async with redis_for_demo(url) as redis_url:
        queue_name = f"demo-{uuid.uuid4().hex[:8]}"
        async with AsyncQueue(queue_name, url=redis_url) as queue:
            try:
                await _run(queue, redis_url, jobs, concurrency)
            finally:
                await _delete_queue(queue)


async def _run(queue: AsyncQueue, url: str, jobs: int, concurrency: int) -> None:
    rng = random.Random(42)
    prepared = [
        queue.prepare(demo_tasks.checksum, f"document {i}") if i % 10 == 0
        else queue.prepare(demo_tasks.fetch_page, i, latency_ms=rng.uniform(1, 20))
        for i in range(jobs)
    ]
    started = time.perf_counter()
    await queue.enqueue_many(prepared)
    enqueue_rate = jobs / (time.perf_counter() - started)
    console.print(f"enqueued {jobs:,} jobs in bulk ({enqueue_rate:,.0f} jobs/s) to queue "
                  f"[bold]{queue.name}[/] on {redact(url)}")
    console.print("  90% fetch_page (async, sleeps 1-20 ms), 10% checksum (plain def, thread pool)")

    command = [sys.executable, "-m", "aqueue", "worker", queue.name, "--url", url,
               "--concurrency", str(concurrency), "--import", "aqueue.demo.tasks", "--burst",
               "--log-level", "WARNING"]
    started = time.perf_counter()
    worker = subprocess.Popen(command)
    try:
        with Progress(TextColumn("[bold]running"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      console=console) as progress:
            bar = progress.add_task("jobs", total=jobs, rate="")
            done = 0
            while done < jobs and worker.poll() is None:
                await asyncio.sleep(0.1)
                counts = await queue.counts()
                done = counts.finished + counts.failed
                elapsed = time.perf_counter() - started
                progress.update(bar, completed=done, rate=f"{done / elapsed:,.0f} jobs/s")
        elapsed = time.perf_counter() - started
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait()
    counts = await queue.counts()
    sample = await queue.fetch_job(prepared[1].id)
    console.print(f"[bold green]{counts.finished:,} finished[/], {counts.failed} failed in "
                  f"{elapsed:.2f} s: [bold]{counts.finished / elapsed:,.0f} jobs/s[/] with one "
                  f"worker process at concurrency {concurrency}")
    console.print(f"  e.g. job {sample.id}: {sample.func} -> {sample.outcome()!r}")
    if counts.finished + counts.failed != jobs:
        raise SystemExit(f"demo: only {counts.finished + counts.failed} of {jobs} jobs ended")


async def _delete_queue(queue: AsyncQueue) -> None:
    store = queue.store
    cursor = b"0"
    while True:
        cursor, batch = await store.call("SCAN", cursor, "MATCH", f"aq:{{{queue.name}}}:*",
                                         "COUNT", 1000, key=queue.keys.queued)
        if batch:
            await store.call("UNLINK", *batch, key=queue.keys.queued)
        if cursor == b"0":
            break
    await store.call("SREM", "aq:{aq}:queues", queue.name, key="aq:{aq}:queues")


@contextlib.asynccontextmanager
async def redis_for_demo(url: str | None) -> AsyncIterator[str]:
    """The given Redis, else the default one if it answers, else a private redis-server."""
    candidate = url or default_url()
    store = Store.open(candidate)
    try:
        await ping(store)
        reachable = True
    except ConnectionFailed as exc:
        if url:
            raise
        reachable = False
        console.print(f"{exc}; starting a private redis-server")
    finally:
        await store.close()
    if reachable:
        yield candidate
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConnectionFailed("no Redis is reachable and redis-server is not installed; "
                               "install it (Debian: apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            private = f"redis://127.0.0.1:{port}/0"
            await _wait_until_up(private)
            console.print(f"started redis-server on port {port} (pid {server.pid})")
            yield private
        finally:
            server.terminate()
            server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        store = Store.open(url)
        try:
            await ping(store)
            return
        except ConnectionFailed:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        finally:
            await store.close()


