"""One run of one scenario for one peer, on a fresh redis-server.

Each function starts redis-server, runs the peer's driver (and worker where needed), samples
Redis and worker CPU at the driver's marks, and returns a flat dict of metrics.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RAW_DIR,
    ROOT,
    Driver,
    RedisServer,
    Snapshot,
    per_job,
    percentile,
    start_processes,
    stop_processes,
    tree_cpu,
)
from benchmarks.peers import Peer

SLEEP_SECONDS = 0.05


@dataclass
class Sizes:
    enqueue: int
    bulk: int
    drain: int
    sleep: int
    roundtrip: int
    roundtrip_seconds: float
    sync: int  # sync enqueues, one at a time
    big: int  # enqueues with a large argument
    payload: int  # that argument's size, bytes
    waiters: int  # coroutines waiting at once
    threads: int  # producer threads sharing one sync producer
    thread_jobs: int  # jobs over all of them
    chains: int = 10_000  # two-step chains (scenarios_workflows.py)
    groups: int = 1_000  # groups of group_size members and a callback
    group_size: int = 100


FULL = Sizes(enqueue=5000, bulk=20000, drain=20000, sleep=5000, roundtrip=500, roundtrip_seconds=60,
             sync=5000, big=2000, payload=64 * 1024, waiters=10000, threads=200,
             thread_jobs=5000)
QUICK = Sizes(enqueue=1000, bulk=2000, drain=2000, sleep=1000, roundtrip=200, roundtrip_seconds=15,
              sync=1000, big=300, payload=64 * 1024, waiters=2000, threads=200,
              thread_jobs=1000, chains=500, groups=20, group_size=20)


class Ctx:
    """Where logs go, and which command lines were used (recorded in the results)."""

    def __init__(self, tag: str) -> None:
        self.log_dir = RAW_DIR / tag
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.commands: dict[str, set[str]] = {}

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, key: str, argv: list[str]) -> None:
        self.commands.setdefault(key, set()).add(_pretty(argv))


def _pretty(argv: list[str]) -> str:
    text = " ".join(argv).replace(str(ROOT) + "/", "")
    return _strip_port(text)


def _strip_port(text: str) -> str:
    import re

    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def _env(peer: Peer, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BENCH_REDIS_URL=url,
        BENCH_CONCURRENCY=str(peer.concurrency),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def _driver(
    ctx: Ctx,
    peer: Peer,
    redis: RedisServer,
    scenario: str,
    n: int,
    extra: list[str],
    timeout: float,
) -> Driver:
    argv = [
        peer.python,
        "-m",
        f"benchmarks.drivers.{peer.driver}",
        "--scenario",
        scenario,
        "--url",
        redis.url,
        "--n",
        str(n),
        *extra,
    ]
    ctx.record(f"{peer.name}:driver", argv)
    return Driver(argv, _env(peer, redis.url), ctx.log(f"{peer.name}-{scenario}-driver"), timeout)


def _redis_metrics(a: Snapshot, b: Snapshot, n: int, extra_cmds: float = 0) -> dict[str, Any]:
    return {
        "redis_cmds_per_job": per_job(b.cmds - a.cmds - extra_cmds, n),
        "redis_cpu_ms_per_1k": per_job(b.cpu - a.cpu, n, 1e6),
    }


def enqueue(ctx: Ctx, peer: Peer, n: int, bulk: bool, scenario: str = "",
            extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """enqueue (one at a time), bulk, sync (one at a time, blocking) or big (one at a
    time, a large argument): timed in the driver, no worker running."""
    scenario = scenario or ("bulk" if bulk else "enqueue")
    with RedisServer(ctx.log_dir) as redis:
        drv = _driver(ctx, peer, redis, scenario, n, list(extra), timeout=600)
        snaps: dict[str, Snapshot] = {}
        try:
            for ev in drv.events():
                if ev["ev"] == "mark":
                    snaps[ev["name"]] = redis.snapshot()
                    drv.ack()
                elif ev["ev"] == "result":
                    res = ev
        finally:
            drv.close()
    return {
        "n": n,
        "jobs_per_s": n / res["elapsed"],
        "client_cpu_s_per_1k": per_job(res["client_cpu"], n, 1000),
        **_redis_metrics(snaps["start"], snaps["end"], n),
    }


def drain(ctx: Ctx, peer: Peer, n: int, kind: str, nprocs: int) -> dict[str, Any]:
    """Pre-enqueue n jobs, start nprocs workers, time until the last one completes."""
    with RedisServer(ctx.log_dir) as redis:
        drv = _driver(ctx, peer, redis, "drain", n, ["--kind", kind], timeout=max(300.0, n / 5))
        argv = peer.worker_argv(redis.url)
        ctx.record(f"{peer.name}:worker", argv)
        snaps: dict[str, Snapshot] = {}
        cpu: dict[str, float] = {}
        marks: dict[str, dict[str, Any]] = {}
        procs: list[subprocess.Popen[bytes]] = []
        t_start = 0.0
        try:
            for ev in drv.events():
                if ev["ev"] == "result":
                    res = ev
                    continue
                name = ev["name"]
                marks[name] = ev
                if name == "go":
                    snaps["start"] = redis.snapshot()
                    t_start = time.monotonic()
                    procs = start_processes(
                        [argv] * nprocs,
                        _env(peer, redis.url),
                        ctx.log(f"{peer.name}-{kind}-worker"),
                    )
                    cpu["start"] = 0.0
                else:
                    snaps[name] = redis.snapshot()
                    if procs:
                        cpu[name] = tree_cpu([p.pid for p in procs])
                drv.ack()
            exited = [p.returncode for p in procs if p.poll() is not None]
        finally:
            drv.close()
            stop_processes(procs)
    worker_log = ctx.log(f"{peer.name}-{kind}-worker")
    if res["completed"] == 0 or exited:
        tail = worker_log.read_text(errors="replace")[-1500:] if worker_log.exists() else ""
        raise RuntimeError(
            f"{res['completed']}/{n} jobs completed, worker exit codes {exited}; "
            f"{worker_log.relative_to(ROOT)} ends with:\n{tail}"
        )
    cmds_per_poll = (snaps["calib_end"].cmds - snaps["calib_start"].cmds) / marks["calib_end"][
        "polls"
    ]
    done_n = res["completed"]
    polls_total = marks["done"]["polls"]
    polls_steady = polls_total - marks.get("claimed", marks["done"])["polls"]
    t_claimed = marks.get("claimed", marks["done"])["t"]
    t_done = marks["done"]["t_done"]
    claimed = snaps.get("claimed", snaps["start"])
    # Costs per job are over the steady part (first job picked up to last completion), so
    # interpreter start-up and imports do not count; the *_incl_startup figures include them.
    out: dict[str, Any] = {
        "n": n,
        "completed": done_n,
        "stalled": res["stalled"],
        "nprocs": nprocs,
        "startup_s": t_claimed - t_start,
        "elapsed_s": t_done - t_start,
        "jobs_per_s": done_n / (t_done - t_start),
        "steady_jobs_per_s": done_n / max(t_done - t_claimed, 1e-9),
        "redis_mem_bytes_per_job": per_job(
            snaps["after_prefill"].mem - snaps["before_prefill"].mem, n
        ),
        "worker_cpu_s_per_1k": per_job(cpu["done"] - cpu.get("claimed", 0.0), done_n, 1000),
        "worker_cpu_s_per_1k_incl_startup": per_job(cpu["done"], done_n, 1000),
        **_redis_metrics(claimed, snaps["done"], done_n, polls_steady * cmds_per_poll),
        "redis_cmds_per_job_incl_startup": per_job(
            snaps["done"].cmds - snaps["start"].cmds - polls_total * cmds_per_poll, done_n
        ),
        "redis_cpu_ms_per_1k_incl_startup": per_job(
            snaps["done"].cpu - snaps["start"].cpu, done_n, 1e6
        ),
        "poll_cmds_subtracted": round(polls_total * cmds_per_poll),
    }
    if kind == "sleep":
        ideal = peer.concurrency * nprocs / SLEEP_SECONDS
        out["ideal_jobs_per_s"] = ideal
        out["pct_of_4000"] = 100 * out["steady_jobs_per_s"] / 4000
        out["pct_of_own_ideal"] = 100 * out["steady_jobs_per_s"] / ideal
    return out


def roundtrip(ctx: Ctx, peer: Peer, n: int, max_seconds: float) -> dict[str, Any]:
    with RedisServer(ctx.log_dir) as redis:
        argv = peer.worker_argv(redis.url)
        ctx.record(f"{peer.name}:worker", argv)
        procs = start_processes(
            [argv], _env(peer, redis.url), ctx.log(f"{peer.name}-roundtrip-worker")
        )
        drv = _driver(
            ctx,
            peer,
            redis,
            "roundtrip",
            n,
            ["--max-seconds", str(max_seconds)],
            timeout=max_seconds + 300,
        )
        snaps: dict[str, Snapshot] = {}
        cpu: dict[str, float] = {}
        try:
            for ev in drv.events():
                if ev["ev"] == "mark":
                    snaps[ev["name"]] = redis.snapshot()
                    cpu[ev["name"]] = tree_cpu([p.pid for p in procs])
                    drv.ack()
                elif ev["ev"] == "result":
                    res = ev
        finally:
            drv.close()
            stop_processes(procs)
    lat: list[float] = res["latencies_ms"]
    k = len(lat)
    return {
        "n": k,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "mean_ms": sum(lat) / k,
        "max_ms": max(lat),
        "missed_wakeups": res.get("missed_wakeups", 0),
        "worker_cpu_s_per_1k": per_job(cpu["end"] - cpu["start"], k, 1000),
        "client_cpu_s_per_1k": per_job(res["client_cpu"], k, 1000),
        **_redis_metrics(snaps["start"], snaps["end"], k),
    }


def sized_drain(peer: Peer, n: int) -> int:
    return max(100, n // peer.drain_divisor)


def sized_sleep(peer: Peer, n: int) -> int:
    return min(n, peer.sleep_cap) if peer.sleep_cap else n
