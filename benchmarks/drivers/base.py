"""Producer side of every scenario, shared by the per-library drivers (stdlib only).

A driver runs in its library's venv: `python -m benchmarks.drivers.<lib>_driver --scenario S
--url U --n N ...`. It talks to the orchestrator over stdout/stdin with JSON lines: a `mark`
event waits for the orchestrator's ack, so Redis INFO and worker CPU are sampled exactly
between the marks; the final line is the `result`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
from typing import Any, Protocol

POLL_INTERVAL = 0.01  # seconds between progress polls while a worker drains
CALIBRATION_POLLS = 20  # polls measured before the worker starts, to subtract their commands
STALL_SECONDS = 20.0  # give up when no job completes for this long
PREFILL_CONCURRENCY = 64  # enqueues in flight while pre-filling (libraries without bulk)
BULK_BATCH = 1000


class Adapter(Protocol):
    """What each library's driver implements. `kind` names a job of tasks/<lib>_tasks.py:
    "noop", "sleep", "stamp" (returns time.time() when it ends) or "sink" (takes one
    argument). The sync methods exist only for libraries with a sync producer."""

    has_bulk: bool

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue(self, kind: str, *args: Any) -> None: ...
    async def enqueue_bulk(self, kind: str, n: int) -> None: ...
    async def progress(self) -> tuple[int | None, int]:
        """(jobs still waiting to be picked up, or None if unknown; jobs completed)."""
        ...

    async def roundtrip(self) -> None:
        """Enqueue a no-op job and wait for its result the library's own way."""
        ...

    async def submit(self, kind: str) -> Any:
        """Enqueue a job; returns the library's handle to it."""
        ...

    async def result(self, handle: Any, timeout: float) -> Any:
        """Wait for the job's return value the library's own way."""
        ...

    def enqueue_sync(self, kind: str, *args: Any) -> None: ...
    def submit_sync(self, kind: str) -> Any: ...
    def result_sync(self, handle: Any, timeout: float) -> Any: ...


class Channel:
    """JSON lines to the orchestrator on the real stdout; library prints go to stderr."""

    def __init__(self) -> None:
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, event: str, **data: Any) -> None:
        self.out.write(json.dumps({"ev": event, **data}) + "\n")

    def mark(self, name: str, **data: Any) -> None:
        self.send("mark", name=name, t=time.monotonic(), **data)
        if not sys.stdin.readline():
            raise SystemExit("orchestrator went away")


def cpu() -> float:
    return time.process_time()


async def _enqueue_loop(ad: Adapter, kind: str, n: int) -> None:
    for _ in range(n):
        await ad.enqueue(kind)


async def prefill(ad: Adapter, kind: str, n: int) -> None:
    """Fill the queue as fast as the library allows (not measured)."""
    if ad.has_bulk:
        for start in range(0, n, BULK_BATCH):
            await ad.enqueue_bulk(kind, min(BULK_BATCH, n - start))
        return
    sem = asyncio.Semaphore(PREFILL_CONCURRENCY)

    async def one() -> None:
        async with sem:
            await ad.enqueue(kind)

    await asyncio.gather(*(one() for _ in range(n)))


async def scenario_enqueue(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    bulk = args.scenario == "bulk"
    await (ad.enqueue_bulk("noop", 10) if bulk else _enqueue_loop(ad, "noop", 10))  # warm-up
    ch.mark("start")
    c0, t0 = cpu(), time.perf_counter()
    if bulk:
        for start in range(0, args.n, args.batch):
            await ad.enqueue_bulk("noop", min(args.batch, args.n - start))
    else:
        await _enqueue_loop(ad, "noop", args.n)
    elapsed, client_cpu = time.perf_counter() - t0, cpu() - c0
    ch.mark("end")
    return {"n": args.n, "elapsed": elapsed, "client_cpu": client_cpu}


def payload(size: int) -> str:
    """`size` ASCII characters that do not compress to nothing (the same in every driver)."""
    rnd = random.Random(42)
    return base64.b64encode(rnd.randbytes(size * 3 // 4 + 3)).decode()[:size]


async def scenario_big(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """Enqueue jobs with one large argument, one at a time, each awaited."""
    data = payload(args.payload)
    for _ in range(10):
        await ad.enqueue("sink", data)
    ch.mark("start")
    c0, t0 = cpu(), time.perf_counter()
    for _ in range(args.n):
        await ad.enqueue("sink", data)
    elapsed, client_cpu = time.perf_counter() - t0, cpu() - c0
    ch.mark("end")
    return {"n": args.n, "elapsed": elapsed, "client_cpu": client_cpu}


async def scenario_sync(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """Enqueue no-op jobs one at a time with the library's sync (blocking) producer."""
    for _ in range(10):
        ad.enqueue_sync("noop")
    ch.mark("start")
    c0, t0 = cpu(), time.perf_counter()
    for _ in range(args.n):
        ad.enqueue_sync("noop")
    elapsed, client_cpu = time.perf_counter() - t0, cpu() - c0
    ch.mark("end")
    return {"n": args.n, "elapsed": elapsed, "client_cpu": client_cpu}


async def scenario_drain(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    n = args.n
    ch.mark("before_prefill")
    await prefill(ad, args.kind, n)
    ch.mark("after_prefill")
    polls = 0
    waiting, done = await ad.progress()
    if done:
        raise SystemExit(f"{done} jobs already complete before the worker started")
    ch.mark("calib_start")
    for _ in range(CALIBRATION_POLLS):
        await ad.progress()
    ch.mark("calib_end", polls=CALIBRATION_POLLS)
    ch.mark("go")  # the orchestrator starts the worker(s) before acking this
    claimed_at: float | None = None
    last_done, last_change = 0, time.monotonic()
    stalled = False
    while True:
        waiting, done = await ad.progress()
        polls += 1
        now = time.monotonic()
        if claimed_at is None and (done > 0 or (waiting is not None and waiting < n)):
            claimed_at = now
            ch.mark("claimed", polls=polls)
        if done != last_done:
            last_done, last_change = done, now
        if done >= n:
            break
        if now - last_change > STALL_SECONDS:
            stalled = True
            break
        await asyncio.sleep(POLL_INTERVAL)
    ch.mark("done", polls=polls, t_done=last_change)
    return {"n": n, "completed": last_done, "stalled": stalled}


async def scenario_roundtrip(ch: Channel, ad: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    # The first round trips also wait for the worker to be up.
    for _ in range(5):
        await asyncio.wait_for(ad.roundtrip(), 120)
    ch.mark("start")
    lat: list[float] = []
    c0, t_end = cpu(), time.monotonic() + args.max_seconds
    while len(lat) < args.n and time.monotonic() < t_end:
        t0 = time.perf_counter()
        await asyncio.wait_for(ad.roundtrip(), 30)
        lat.append((time.perf_counter() - t0) * 1000)
    client_cpu = cpu() - c0
    ch.mark("end")
    return {
        "n": len(lat),
        "latencies_ms": lat,
        "client_cpu": client_cpu,
        "missed_wakeups": getattr(ad, "missed_wakeups", 0),
    }


SCENARIOS: dict[str, Any] = {
    "enqueue": scenario_enqueue,
    "bulk": scenario_enqueue,
    "big": scenario_big,
    "sync": scenario_sync,
    "drain": scenario_drain,
    "roundtrip": scenario_roundtrip,
}


def parse_args(scenarios: dict[str, Any]) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=sorted(scenarios), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--kind", choices=("noop", "sleep"), default="noop")
    ap.add_argument("--batch", type=int, default=BULK_BATCH)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--payload", type=int, default=64 * 1024, help="argument size (big)")
    ap.add_argument("--threads", type=int, default=200, help="producer threads (threads)")
    return ap.parse_args()


def main(make_adapter: Any) -> None:
    """Entry point of a driver module: `main(lambda url: MyAdapter(url))`."""
    from benchmarks.drivers.waiting import WAITING_SCENARIOS

    scenarios = {**SCENARIOS, **WAITING_SCENARIOS}
    args = parse_args(scenarios)
    os.environ["BENCH_REDIS_URL"] = args.url
    ch = Channel()

    async def run() -> dict[str, Any]:
        ad: Adapter = make_adapter(args.url)
        await ad.connect()
        try:
            return await scenarios[args.scenario](ch, ad, args)  # type: ignore[no-any-return]
        finally:
            await ad.close()

    result = asyncio.run(run())
    ch.send("result", **result)
