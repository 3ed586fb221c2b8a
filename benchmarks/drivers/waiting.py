"""Producer side of the scenarios that wait for results: many waiters at once on one
event loop, many threads sharing one sync producer, and a worker's start-up (stdlib only).

Wake-up latency is measured with one clock: the job returns `time.time()` when it ends
(tasks/<lib>_tasks.py `stamp`), the waiter takes `time.time()` when the library hands it
the result; worker and producer run on the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

from benchmarks.drivers.base import PREFILL_CONCURRENCY, Adapter, Channel, cpu

WAIT_TIMEOUT = 30.0  # seconds a waiter waits before it counts as failed
SETTLE_SECONDS = 10.0
PROBES = 5  # calls timed while the waiters wait
PROBE_TIMEOUT = 10.0
STARTUP_JOBS = 3  # a probe still waiting then counts as this long


async def _settle(max_seconds: float = SETTLE_SECONDS) -> float:
    """Wait until the event loop is idle (every waiter is in place); returns seconds."""
    t0 = time.monotonic()
    calm = 0
    while calm < 3 and time.monotonic() - t0 < max_seconds:
        t = time.perf_counter()
        await asyncio.sleep(0.02)
        calm = calm + 1 if time.perf_counter() - t - 0.02 < 0.005 else 0
    return time.monotonic() - t0


async def _submit_all(ad: Adapter, kind: str, n: int) -> list[Any]:
    sem = asyncio.Semaphore(PREFILL_CONCURRENCY)

    async def one() -> Any:
        async with sem:
            return await ad.submit(kind)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def scenario_waiters(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """n jobs enqueued, n coroutines waiting for their results at once, then the worker
    starts (the orchestrator counts the producer's connections at the marks)."""
    handles = await _submit_all(ad, "stamp", args.n)
    woke: list[float] = []
    ends: list[float] = []
    errors: list[str] = []

    async def wait_one(handle: Any) -> None:
        try:
            stamp = float(await ad.result(handle, WAIT_TIMEOUT))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return
        woke.append((time.time() - stamp) * 1000)
        ends.append(stamp)

    tasks = [asyncio.ensure_future(wait_one(h)) for h in handles]
    settle_s = await _settle()
    ch.mark("waiting")
    probes = []
    for _ in range(PROBES):
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(ad.progress(), PROBE_TIMEOUT)
        except TimeoutError:  # e.g. every pooled connection is held by a waiter
            probes.append(PROBE_TIMEOUT * 1000)
            break
        probes.append((time.perf_counter() - t0) * 1000)
    ch.mark("go")  # the orchestrator starts the worker before acking this
    c0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed, client_cpu = time.perf_counter() - t0, cpu() - c0
    ch.mark("done")
    return {"n": args.n, "woke_ms": woke, "errors": errors[:5], "failed": len(errors),
            "ends_span_s": max(ends) - min(ends) if ends else None,
            "probe_ms": probes, "settle_s": settle_s, "elapsed": elapsed,
            "client_cpu": client_cpu}


async def scenario_threads(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """`--threads` threads share one sync producer; each enqueues a job and waits for its
    result, n / threads times (the worker runs all along)."""
    return _threads(ch, ad, args)


def _threads(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    for _ in range(3):  # the first round trips also wait for the worker to be up
        ad.result_sync(ad.submit_sync("stamp"), WAIT_TIMEOUT)
    nthreads = args.threads
    per_thread = max(1, args.n // nthreads)
    start = threading.Barrier(nthreads + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            t0 = time.perf_counter()
            try:
                float(ad.result_sync(ad.submit_sync("stamp"), WAIT_TIMEOUT))
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(nthreads)]
    for t in threads:
        t.start()
    ch.mark("start")
    c0, t0 = cpu(), time.perf_counter()
    start.wait()
    total = nthreads * per_thread
    while len(latencies) + len(errors) < total // 2 and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    ch.mark("busy")  # sampled while the threads keep going
    for t in threads:
        t.join()
    elapsed, client_cpu = time.perf_counter() - t0, cpu() - c0
    ch.mark("end")
    return {"n": total, "threads": nthreads, "latencies_ms": latencies, "errors": errors[:5],
            "failed": len(errors), "elapsed": elapsed, "client_cpu": client_cpu}


async def scenario_startup(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """A few jobs enqueued, then the worker is spawned: the first job's stamp minus the
    spawn time is the worker's start-up (imports, connecting, first claim). More than one
    job, since SAQ's start-up sweep may abort a job it is claiming at that moment."""
    handles = [await ad.submit("stamp") for _ in range(STARTUP_JOBS)]
    ch.mark("go")  # the orchestrator takes time.time() and spawns the worker
    results = await asyncio.gather(*(ad.result(h, WAIT_TIMEOUT) for h in handles),
                                   return_exceptions=True)
    stamps = [float(r) for r in results if not isinstance(r, BaseException)]
    if not stamps:
        raise RuntimeError(f"no job ran: {results}")
    return {"n": 1, "stamp": min(stamps), "lost": len(results) - len(stamps)}


WAITING_SCENARIOS: dict[str, Any] = {
    "waiters": scenario_waiters,
    "threads": scenario_threads,
    "startup": scenario_startup,
}
