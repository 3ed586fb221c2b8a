"""Cancellation latency (aqueue only): from ``cancel()`` on a running job to the job's
task seeing its ``CancelledError``, in a worker process of its own.

The job pushes the time it saw the CancelledError (CLOCK_MONOTONIC, shared by the host's
processes) to a list; the producer subtracts the time it called ``cancel()``. Jobs are
cancelled one at a time, each once it is running, while ``busy`` other jobs run beside it.
Standalone: ``python -m benchmarks.scenarios_control [--n 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from benchmarks.common import RAW_DIR, RedisServer, percentile, start_processes, stop_processes
from benchmarks.peers import QUEUE, Peer
from benchmarks.scenarios import Ctx, _env

TASKS = "benchmarks.tasks.aqueue_control_tasks"


def worker_argv(peer_bin: str, url: str) -> list[str]:
    return [f"{peer_bin}/aqueue", "worker", QUEUE, "--url", url, "--import", TASKS,
            "--concurrency", "50"]


async def _measure(url: str, n: int, busy: int) -> list[float]:
    import redis.asyncio as aioredis

    from aqueue import AsyncQueue

    latencies: list[float] = []
    client = aioredis.Redis.from_url(url)
    async with AsyncQueue(QUEUE, url=url) as queue:
        from benchmarks.tasks.aqueue_control_tasks import wait_for_cancel

        for i in range(busy):
            await queue.enqueue(wait_for_cancel, f"busy-{i}")
        for i in range(n):
            job = await queue.enqueue(wait_for_cancel, f"job-{i}")
            while True:  # until this job's function runs (the busy ones say so too)
                _, running = await client.blpop(["bench:running"], timeout=10)  # type: ignore[misc]
                if _text(running) == f"job-{i}":
                    break
            asked = time.monotonic()
            assert await job.cancel()
            _, raw = await client.blpop(["bench:cancelled"], timeout=10)  # type: ignore[misc]
            label, seen = _text(raw).split()
            assert label == f"job-{i}", label
            latencies.append((float(seen) - asked) * 1000)
    await client.aclose()
    return latencies


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def cancel_latency(ctx: Ctx, peer: Peer, n: int, busy: int = 20) -> dict[str, Any]:
    """n running jobs cancelled one after another, with ``busy`` others running."""
    with RedisServer(ctx.log_dir) as server:
        argv = worker_argv(peer.bin, server.url)
        ctx.record(f"{peer.name}:cancel-worker", argv)
        procs = start_processes([argv], _env(peer, server.url), ctx.log(f"{peer.name}-cancel"))
        try:
            latencies = asyncio.run(_measure(server.url, n, busy))
        finally:
            stop_processes(procs)
    return {"n": n, "busy": busy, "cancel_p50_ms": percentile(latencies, 50),
            "cancel_p99_ms": percentile(latencies, 99), "cancel_max_ms": max(latencies)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--busy", type=int, default=20)
    args = ap.parse_args()
    from benchmarks.peers import PEERS

    ctx = Ctx("cancel")
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    print(json.dumps(cancel_latency(ctx, PEERS["aqueue"], args.n, args.busy), indent=1))


if __name__ == "__main__":
    main()
