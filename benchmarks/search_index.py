"""What the dashboard's search index costs per enqueue, and how fast search is at
1,000,000 jobs: ``.venv/bin/python -m benchmarks.search_index [--jobs 1000000]``.

A measurement, not a test: it starts a private redis-server, and
1. enqueues the same jobs (3 keyword arguments each, as a typical ``send_email``) to a
   queue without the index, with it on every argument and on one argument, one at a
   time and in batches of 1,000, and reports
   Redis CPU (``INFO cpu``) and memory per enqueue;
2. fills one queue with ``--jobs`` jobs (index on) and times searches against it, with
   the index and without it (the bounded scan), medians and p95 of 20 runs.
Results print as Markdown tables (docs/dashboard.md quotes them).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aqueue import AsyncQueue
from benchmarks.common import RedisServer

FUNC = "app.mail.send_email"
SUBJECTS = ("Welcome", "Invoice", "Password reset")


def job_kwargs(i: int) -> dict[str, Any]:
    return {"to": f"user{i}@example.com", "subject": SUBJECTS[i % 3], "user_id": i}


INDEXES: dict[str, list[str] | bool | None] = {
    "off": False, "every argument": None, "user_id only": ["user_id"]}


async def enqueue_cost(server: RedisServer, n: int, index: str, batch: int
                       ) -> dict[str, float]:
    """Redis CPU and memory per enqueue of ``n`` jobs, ``batch`` per call."""
    name = f"cost-{len(index)}-{batch}"
    fields = INDEXES[index]
    async with AsyncQueue(name, url=server.url, result_ttl=-1) as queue:
        if fields is not False:
            await queue.enable_search_index(fields if isinstance(fields, list) else None)
        await queue.enqueue_call(FUNC, kwargs=job_kwargs(-1))  # scripts loaded, queue known
        before = server.snapshot()
        started = time.perf_counter()
        if batch == 1:
            for i in range(n):
                await queue.enqueue_call(FUNC, kwargs=job_kwargs(i))
        else:
            for start in range(0, n, batch):
                await queue.enqueue_many([queue.prepare_call(FUNC, kwargs=job_kwargs(i))
                                          for i in range(start, min(n, start + batch))])
        elapsed = time.perf_counter() - started
        after = server.snapshot()
    return {"cpu_us": (after.cpu - before.cpu) / n * 1e6, "bytes": (after.mem - before.mem) / n,
            "rate": n / elapsed}


async def timed(call: Callable[[], Awaitable[Any]], runs: int = 20) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def fill(server: RedisServer, jobs: int) -> AsyncQueue:
    queue = AsyncQueue("big", url=server.url, result_ttl=-1)
    await queue.enable_search_index()
    started = time.perf_counter()
    for start in range(0, jobs, 1000):
        await queue.enqueue_many([queue.prepare_call(FUNC, kwargs=job_kwargs(i))
                                  for i in range(start, min(jobs, start + 1000))])
    print(f"filled {jobs:,} jobs (index on) in {time.perf_counter() - started:.0f} s")
    return queue


async def search_latency(server: RedisServer, jobs: int) -> list[tuple[str, str, float,
                                                                       float, int]]:
    queue = await fill(server, jobs)
    some = (await queue.job_ids("queued", jobs // 2, jobs // 2))[0]
    needle = jobs // 2 + 17
    rows = []
    cases = [
        ("index", "one user: user_id=N", f"user_id={needle}"),
        ("index", "a value in any argument", f"user{needle}@example.com"),
        ("index", "a third of the jobs: subject=Invoice (first page)", "subject=Invoice"),
        ("index", "function and two arguments", f"func:{FUNC} subject=Invoice "
                                                f"user_id={needle}"),
        ("index", "every job of the function (first page)", f"func:{FUNC}"),
        ("index", "status:failed subject=Invoice (none failed)", "subject=Invoice status:failed"),
        ("-", "a job id", some),
    ]
    for engine, what, text in cases:
        page = await queue.search(text)

        async def run(text: str = text) -> None:
            await queue.search(text)

        p50, p95 = await timed(run)
        rows.append((engine, what, p50, p95, len(page.jobs)))
    index = await queue.search_index()
    await queue.store.call("HDEL", f"{queue.keys.base}ix:config", "fields",
                           key=queue.keys.queued)  # the index off: searches scan
    for what, text in [("function, first page (scan)", f"func:{FUNC}"),
                       ("one user, one page of the scan (2,000 jobs)", f"user_id={needle}")]:
        page = await queue.search(text)

        async def scan(text: str = text) -> None:
            await queue.search(text)

        p50, p95 = await timed(scan)
        rows.append(("scan", what, p50, p95, len(page.jobs)))
    used = server.snapshot().mem
    print(f"\nRedis memory with {jobs:,} jobs: {used / 2**20:,.0f} MiB; the index "
          f"{index.bytes / 2**20:,.0f} MiB ({index.bytes / max(1, index.jobs):.0f} bytes/job, "
          f"{index.terms_per_job:.1f} terms/job)")
    await queue.close()
    return rows


async def main(jobs: int, cost_jobs: int) -> None:
    with tempfile.TemporaryDirectory() as logs, RedisServer(Path(logs)) as server:
        print(f"redis-server {server.version()}\n")
        print("| enqueue | index | Redis CPU / job | memory / job | jobs/s |"
              "\n|---|---|---|---|---|")
        for batch in (1, 1000):
            for index in INDEXES:
                c = await enqueue_cost(server, cost_jobs, index, batch)
                print(f"| {'one at a time' if batch == 1 else 'batches of 1,000'} | {index} | "
                      f"{c['cpu_us']:.1f} µs | {c['bytes']:.0f} B | {c['rate']:,.0f} |")
        assert server.client is not None
        server.client.flushall()
        if not jobs:
            return
        rows = await search_latency(server, jobs)
        print(f"\n| engine | search at {jobs:,} jobs | p50 | p95 | results |"
              "\n|---|---|---|---|---|")
        for engine, what, p50, p95, found in rows:
            print(f"| {engine} | {what} | {p50:.2f} ms | {p95:.2f} ms | {found} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--cost-jobs", type=int, default=20_000)
    options = parser.parse_args()
    asyncio.run(main(options.jobs, options.cost_jobs))
