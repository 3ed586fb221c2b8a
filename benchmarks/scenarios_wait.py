"""One run of the scenarios that wait for results (many waiters, many threads) and of
worker start-up; see benchmarks/drivers/waiting.py for the producer side."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import (
    Driver,
    RedisServer,
    Snapshot,
    per_job,
    percentile,
    start_processes,
    stop_processes,
)
from benchmarks.peers import Peer
from benchmarks.scenarios import Ctx, _driver, _env, _redis_metrics
from benchmarks.sockets import named_clients, process_connections

AQUEUE_NAMES = "aqueue:producer:"


def _pct(values: list[float], p: float) -> float | None:
    return percentile(values, p) if values else None


@dataclass
class Marks:
    """What was seen at each mark the driver announced: the producer's TCP connections to
    Redis, aqueue's named clients, and a Redis snapshot."""

    connections: dict[str, int] = field(default_factory=dict)
    named: dict[str, dict[str, int]] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)


def _follow_marks(drv: Driver, redis: RedisServer,
                  at_mark: Callable[[str], None] | None = None) -> tuple[dict[str, Any], Marks]:
    """Read the driver's events to its result; at each mark record ``Marks``, call
    ``at_mark(name)``, then let the driver go on."""
    marks = Marks()
    res: dict[str, Any] = {}
    for ev in drv.events():
        if ev["ev"] == "result":
            res = ev
            continue
        name = ev["name"]
        marks.connections[name] = process_connections(drv.proc.pid, redis.port)
        assert redis.client is not None
        marks.named[name] = named_clients(redis.client, AQUEUE_NAMES)
        marks.snapshots[name] = redis.snapshot()
        if at_mark is not None:
            at_mark(name)
        drv.ack()
    return res, marks


def waiters(ctx: Ctx, peer: Peer, n: int) -> dict[str, Any]:
    """n jobs, n coroutines waiting on one producer; the worker starts once they wait."""
    with RedisServer(ctx.log_dir) as redis:
        drv = _driver(ctx, peer, redis, "waiters", n, [], timeout=900)
        argv = peer.worker_argv(redis.url)
        ctx.record(f"{peer.name}:worker", argv)
        procs: list[subprocess.Popen[bytes]] = []

        def at_mark(name: str) -> None:
            if name == "go":
                procs.extend(start_processes(
                    [argv], _env(peer, redis.url), ctx.log(f"{peer.name}-waiters-worker")))

        try:
            res, marks = _follow_marks(drv, redis, at_mark)
        finally:
            drv.close()
            stop_processes(procs)
        conns, named, snaps = marks.connections, marks.named, marks.snapshots
    woke: list[float] = res["woke_ms"]
    return {
        "n": n,
        "woken": len(woke),
        "failed": res["failed"],
        "errors": res["errors"],
        "wake_p50_ms": _pct(woke, 50),
        "wake_p99_ms": _pct(woke, 99),
        "wake_max_ms": max(woke) if woke else None,
        "ends_span_s": res["ends_span_s"],  # first job end to last: how fast the worker was
        "producer_connections": max(conns.values()),
        "producer_connections_waiting": conns["waiting"],
        "producer_connections_done": conns["done"],
        "named_connections_waiting": sum(named["waiting"].values()),
        "named_connections": named["waiting"],
        "probe_ms_max": max(res["probe_ms"]),
        "probe_ms_median": _pct(res["probe_ms"], 50),
        "settle_s": res["settle_s"],
        "elapsed_s": res["elapsed"],
        "client_cpu_s_per_1k": per_job(res["client_cpu"], n, 1000),
        **_redis_metrics(snaps["go"], snaps["done"], n),
    }


def threads(ctx: Ctx, peer: Peer, n: int, nthreads: int) -> dict[str, Any]:
    """nthreads threads share one sync producer, each enqueueing and waiting in turn."""
    with RedisServer(ctx.log_dir) as redis:
        argv = peer.worker_argv(redis.url)
        ctx.record(f"{peer.name}:worker", argv)
        procs = start_processes(
            [argv], _env(peer, redis.url), ctx.log(f"{peer.name}-threads-worker")
        )
        drv = _driver(
            ctx, peer, redis, "threads", n, ["--threads", str(nthreads)], timeout=900
        )
        try:
            res, marks = _follow_marks(drv, redis)
        finally:
            drv.close()
            stop_processes(procs)
        conns, named, snaps = marks.connections, marks.named, marks.snapshots
    lat: list[float] = res["latencies_ms"]
    done = len(lat)
    return {
        "n": res["n"],
        "threads": nthreads,
        "completed": done,
        "failed": res["failed"],
        "errors": res["errors"],
        "jobs_per_s": done / res["elapsed"],
        "p50_ms": _pct(lat, 50),
        "p99_ms": _pct(lat, 99),
        "producer_connections": max(conns["busy"], conns["end"]),
        "named_connections": sum(named["busy"].values()),
        "client_cpu_s_per_1k": per_job(res["client_cpu"], done, 1000),
        **_redis_metrics(snaps["start"], snaps["end"], done),
    }


def startup(ctx: Ctx, peer: Peer) -> dict[str, Any]:
    """Seconds from spawning the worker to its first job's end (the job's time.time())."""
    with RedisServer(ctx.log_dir) as redis:
        drv = _driver(ctx, peer, redis, "startup", 1, [], timeout=300)
        argv = peer.worker_argv(redis.url)
        ctx.record(f"{peer.name}:worker", argv)
        procs: list[subprocess.Popen[bytes]] = []
        spawned = 0.0
        try:
            for ev in drv.events():
                if ev["ev"] == "result":
                    res = ev
                    continue
                spawned = time.time()
                procs = start_processes(
                    [argv], _env(peer, redis.url), ctx.log(f"{peer.name}-startup-worker")
                )
                drv.ack()
        finally:
            drv.close()
            stop_processes(procs)
    return {"n": 1, "startup_s": res["stamp"] - spawned, "jobs_lost": res["lost"]}
