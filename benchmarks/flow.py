"""Flow-control benchmarks: ``python -m benchmarks.flow [rate|fairness|cron ...]``.

- rate: a queue rate limit of N/s held by 3 worker processes, measured over 30 s;
- fairness: tenant A has 10,000 queued jobs, tenant B 10, both under a per-key cap;
  B's wait (enqueue to start), p50 and p99, against plain FIFO without limit keys;
- cron: 3 worker processes run an every-second schedule; tick lateness (tick to enqueue,
  tick to start), p50 and p99.

Each scenario starts its own redis-server and worker processes on loopback and prints
one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aqueue import AsyncQueue
from aqueue.flow import Rate
from benchmarks.common import ROOT, RedisServer, percentile

TASKS = "benchmarks.tasks.aqueue_tasks"


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="aqueue-flow-bench-"))).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def workers(url: str, queue: str, n: int, *extra: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", queue, "--url", url, "--import", TASKS,
         "--log-level", "WARNING", *extra], cwd=ROOT, stderr=subprocess.DEVNULL)
        for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


async def started_at(q: AsyncQueue, ids: list[str]) -> list[float]:
    times = []
    for job_id in ids:
        value = await q.store.call("HGET", q.keys.job(job_id), "started_at", key=q.keys.queued)
        if value is not None:
            times.append(float(value))
    return times


async def until_finished(q: AsyncQueue, n: int) -> None:
    for _ in range(30_000):
        if (await q.counts()).finished >= n:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"fewer than {n} jobs finished in 300 s")


async def rate(limit: int = 100, seconds: float = 30.0) -> dict[str, Any]:
    with redis_server() as server:
        async with AsyncQueue("bench-rate", url=server.url, result_ttl=3600) as q:
            await q.set_limits(rate=Rate(limit, per=1.0))
            total = int(limit * (seconds + 10))
            ids: list[str] = []
            for start in range(0, total, 1000):
                jobs = await q.enqueue_many([q.prepare(f"{TASKS}.noop")
                                             for _ in range(min(1000, total - start))])
                ids += [j.id for j in jobs]
            with workers(server.url, "bench-rate", 3, "--concurrency", "50"):
                await asyncio.sleep(seconds + 5)
            starts = sorted(await started_at(q, ids))
    first = starts[0] + 2.0  # after a warm-up, a window of `seconds`
    window = [s for s in starts if first <= s < first + seconds]
    achieved = len(window) / seconds
    per_second: dict[int, int] = {}
    for s in window:
        per_second[int(s)] = per_second.get(int(s), 0) + 1
    return {"scenario": "rate", "limit_per_s": limit, "workers": 3, "seconds": seconds,
            "achieved_per_s": round(achieved, 2),
            "deviation_pct": round((achieved - limit) / limit * 100, 2),
            "max_in_one_second": max(per_second.values())}


async def fairness(big: int = 10_000, small: int = 10, cap: int = 2) -> dict[str, Any]:
    """Tenant B's 10 jobs arrive while a worker is busy with tenant A's backlog."""
    out: dict[str, Any] = {"scenario": "fairness", "big_tenant_jobs": big,
                           "small_tenant_jobs": small, "key_concurrency": cap}
    for mode in ("limit_key", "fifo"):
        keyed = mode == "limit_key"

        def options(key: str, keyed: bool = keyed) -> dict[str, Any]:
            return {"limit_key": key} if keyed else {}

        with redis_server() as server:
            async with AsyncQueue("bench-fair", url=server.url, result_ttl=3600) as q:
                if keyed:
                    await q.set_limits(key_concurrency=cap)
                for start in range(0, big, 1000):
                    await q.enqueue_many([q.prepare_call(f"{TASKS}.noop", **options("big"))
                                          for _ in range(min(1000, big - start))])
                with workers(server.url, "bench-fair", 1, "--concurrency", "20"):
                    await until_finished(q, 200)  # the worker is into A's backlog
                    smalls = await q.enqueue_many([q.prepare_call(f"{TASKS}.noop",
                                                                  **options("small"))
                                                   for _ in range(small)])
                    for job in smalls:
                        await job.result(timeout=300)
                    left = (await q.counts()).queued
                waits = [s - j.enqueued_at for s, j in
                         zip(await started_at(q, [j.id for j in smalls]), smalls, strict=True)]
        out[f"{mode}_small_wait_p50_ms"] = round(percentile(waits, 50) * 1000, 1)
        out[f"{mode}_small_wait_p99_ms"] = round(percentile(waits, 99) * 1000, 1)
        out[f"{mode}_big_jobs_still_queued"] = left
    return out


async def cron(seconds: float = 30.0) -> dict[str, Any]:
    with redis_server() as server:
        async with AsyncQueue("bench-cron", url=server.url) as q:
            with workers(server.url, "bench-cron", 3, "--cron", "benchmarks.flow_cron:TICKS"):
                await asyncio.sleep(seconds + 3)
            ids = [i.decode() for i in await q.store.call(
                "KEYS", "aq:{bench-cron}:job:cron.*", key=q.keys.queued)]
            rows = []
            for key in ids:
                enqueued, started = await q.store.call("HMGET", key, "enqueued_at", "started_at",
                                                       key=q.keys.queued)
                tick = float(key.rsplit("cron.bench-tick.", 1)[1])
                rows.append((tick, float(enqueued) - tick,
                             float(started) - tick if started else None))
    enqueue_late = [r[1] for r in rows]
    start_late = [r[2] for r in rows if r[2] is not None]
    ticks = sorted(r[0] for r in rows)
    gaps = sum(1 for a, b in itertools.pairwise(ticks) if b - a > 1.5)
    return {"scenario": "cron", "workers": 3, "ticks": len(rows), "missed_ticks": gaps,
            "enqueue_lateness_p50_ms": round(percentile(enqueue_late, 50) * 1000, 1),
            "enqueue_lateness_p99_ms": round(percentile(enqueue_late, 99) * 1000, 1),
            "start_lateness_p50_ms": round(percentile(start_late, 50) * 1000, 1),
            "start_lateness_p99_ms": round(percentile(start_late, 99) * 1000, 1)}


SCENARIOS: dict[str, Callable[[], Coroutine[Any, Any, dict[str, Any]]]] = {
    "rate": rate, "fairness": fairness, "cron": cron}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--output", help="append the JSON lines to this file")
    args = parser.parse_args(argv)
    for name in args.scenarios or list(SCENARIOS):
        started = time.monotonic()
        result = asyncio.run(SCENARIOS[name]())
        result["took_s"] = round(time.monotonic() - started, 1)
        line = json.dumps(result)
        print(line, flush=True)
        if args.output:
            with open(args.output, "a") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
