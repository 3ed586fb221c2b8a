"""The cluster scenario: `python -m benchmarks.cluster [--quick]` (part of `make bench`).

A 3-primary Redis Cluster (no replicas, like the single redis-server of the other
scenarios) on loopback ports. Two layouts of the same jobs:

- three queues whose slots live on three different primaries (``names_on_distinct_primaries``);
- one queue (on one primary).

For each: bulk enqueue, one-at-a-time enqueue (50 concurrent producers), and a drain by
``aqueue worker Q... --processes N --burst --concurrency 200`` for N = 1, 2. Measured:
jobs/s and the Redis CPU each primary spent per job (INFO used_cpu_user+sys), from which
docs/scaling.md derives how many jobs/s one Redis core carries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis

from aqueue import AsyncAdmin
from benchmarks.common import RAW_DIR, RESULTS_DIR, ROOT
from tests.servers.cluster import RedisCluster

TASK = "benchmarks.tasks.aqueue_tasks.noop"


@dataclass(frozen=True)
class Sizes:
    drain: int
    single: int
    processes: tuple[int, ...]


FULL = Sizes(drain=60_000, single=10_000, processes=(1, 2))
QUICK = Sizes(drain=6_000, single=2_000, processes=(1, 2))


def cpu(port: int) -> float:
    with redis.Redis(port=port) as node:
        info: dict[str, Any] = node.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class Meter:
    """Wall time and per-primary Redis CPU over a block."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports

    def __enter__(self) -> Meter:
        self.cpu0 = {p: cpu(p) for p in self.ports}
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.t0
        self.cpu = {p: cpu(p) - self.cpu0[p] for p in self.ports}

    def result(self, jobs: int) -> dict[str, Any]:
        per_node_us = {str(p): round(c / jobs * 1e6, 2) for p, c in self.cpu.items()}
        return {
            "jobs": jobs,
            "seconds": round(self.seconds, 3),
            "jobs_per_s": round(jobs / self.seconds),
            "redis_cpu_us_per_job": round(sum(self.cpu.values()) / jobs * 1e6, 2),
            "redis_cpu_us_per_job_by_node": per_node_us,
            "busiest_node_cpu_share": round(max(self.cpu.values()) / self.seconds, 3),
        }


async def bulk_enqueue(url: str, names: list[str], n: int) -> None:
    """``n`` jobs spread over the queues, 1,000 per round trip, the queues one after the
    other (one producer, its connections shared by the queues, as with ``AsyncAdmin``)."""
    async with AsyncAdmin(url=url) as admin:
        for name in names:
            q = admin.queue(name)
            await q.enqueue_many([q.prepare(TASK) for _ in range(n // len(names))],
                                 batch_size=1000)


async def single_enqueue(url: str, names: list[str], n: int, producers: int = 50) -> None:
    """``producers`` coroutines each enqueueing one job at a time, awaited."""
    async with AsyncAdmin(url=url) as admin:
        queues = [admin.queue(name) for name in names]

        async def produce(k: int) -> None:
            q = queues[k % len(queues)]
            for _ in range(n // producers):
                await q.enqueue(TASK)

        await asyncio.gather(*(produce(k) for k in range(producers)))


def finished(cluster: RedisCluster, names: list[str]) -> int:
    total = 0
    for name in names:
        port = cluster.port_for_slot(cluster.key_slot(f"aq:{{{name}}}:stats"))
        with redis.Redis(port=port) as node:
            total += int(node.hget(f"aq:{{{name}}}:stats", "finished") or 0)
    return total


def drain(cluster: RedisCluster, url: str, names: list[str], n: int, processes: int,
          log: Any) -> tuple[float, int]:
    """Run the burst workers to their end; returns the seconds from the first finished job
    to the last (process start-up left out) and how many jobs that span covers."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", *names, "--url", url, "--import",
         "benchmarks.tasks.aqueue_tasks", "--processes", str(processes), "--burst",
         "--concurrency", "200", "--log-level", "WARNING"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 900
    while (count := finished(cluster, names)) < n:
        if first is None and count:
            first = (time.monotonic(), count)
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"aqueue worker ended with {count} of {n} jobs done; see {log.name}")
        time.sleep(0.02)
    last = time.monotonic()
    if worker.wait(60) != 0:
        raise RuntimeError(f"aqueue worker exited with {worker.returncode}; see {log.name}")
    start, before = first or (last, 0)
    return last - start, n - before


def run_layout(cluster: RedisCluster, names: list[str], sizes: Sizes, log: Any
               ) -> dict[str, Any]:
    ports = cluster.primary_ports()
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    out: dict[str, Any] = {"queues": names,
                           "queue_nodes": [cluster.port_for_slot(
                               cluster.key_slot(f"aq:{{{n}}}:queued")) for n in names]}
    cluster.flushall()
    with Meter(ports) as meter:
        asyncio.run(single_enqueue(url, names, sizes.single))
    out["enqueue_one_at_a_time"] = meter.result(sizes.single)
    for processes in sizes.processes:
        cluster.flushall()
        with Meter(ports) as meter:
            asyncio.run(bulk_enqueue(url, names, sizes.drain))
        out["bulk_enqueue"] = meter.result(sizes.drain)
        with Meter(ports) as meter:
            seconds, jobs = drain(cluster, url, names, sizes.drain, processes, log)
        result = meter.result(sizes.drain)  # CPU per job over the whole run, start-up included
        result["seconds"], result["jobs_per_s"] = round(seconds, 3), round(jobs / seconds)
        result["busiest_node_cpu_share"] = round(
            max(meter.cpu.values()) / meter.seconds, 3)
        out[f"drain_{processes}_processes"] = result
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step, the run with the median jobs/s (its other figures kept with it)."""
    out = dict(runs[0])
    for step, first in runs[0].items():
        if isinstance(first, dict):
            ordered = sorted((r[step] for r in runs), key=lambda r: r["jobs_per_s"])
            out[step] = {**ordered[len(ordered) // 2],
                         "jobs_per_s_all_runs": [r["jobs_per_s"] for r in ordered]}
    return out


def table(results: dict[str, Any]) -> str:
    rows = ["| layout | step | jobs/s | Redis CPU µs/job (all nodes) | per node | busiest "
            "node busy |", "|---|---|---:|---:|---|---:|"]
    for layout, steps in results["layouts"].items():
        for step, r in steps.items():
            if not isinstance(r, dict):
                continue
            nodes = " / ".join(f"{v:g}" for v in r["redis_cpu_us_per_job_by_node"].values())
            rows.append(f"| {layout} | {step} | {r['jobs_per_s']:,} | "
                        f"{r['redis_cpu_us_per_job']:g} | {nodes} | "
                        f"{r['busiest_node_cpu_share']:.0%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--runs", type=int, default=3, help="runs per layout (each step reports "
                    "the run with the median jobs/s)")
    ap.add_argument("--output", default=str(RESULTS_DIR / "cluster.json"))
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with RedisCluster(primaries=3, replicas_per_primary=0) as cluster, \
            open(RAW_DIR / "cluster-workers.log", "ab") as log:
        three = cluster.names_on_distinct_primaries(3, prefix="bench")
        layouts = {
            "3 queues on 3 primaries": median_run(
                [run_layout(cluster, three, sizes, log) for _ in range(args.runs)]),
            "1 queue": median_run(
                [run_layout(cluster, three[:1], sizes, log) for _ in range(args.runs)]),
        }
        version = redis.Redis(port=cluster.primary_ports()[0]).info("server")["redis_version"]
    results = {"meta": {"sizes": vars(sizes), "runs": args.runs, "nproc": os.cpu_count(),
                        "redis": version,
                        "duration_s": round(time.monotonic() - started, 1),
                        "command": "python -m benchmarks.cluster " + " ".join(argv or
                                                                              sys.argv[1:])},
               "layouts": layouts}
    with open(args.output, "w") as f:
        json.dump(results, f, indent=1)
    print(table(results))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
