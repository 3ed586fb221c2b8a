"""Workflows end to end (aqueue only): ``chains`` (N two-step chains, each step passing
its result to the next, against the same number of plain jobs), ``groups`` (G groups of
M members and a callback). One worker process; the producer enqueues from 50 coroutines
while the worker runs. Reports jobs/s and Redis commands per job (INFO commandstats:
the commands inside scripts included), in all and by command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis as redis_py

from benchmarks.common import RedisServer, per_job, start_processes, stop_processes
from benchmarks.peers import Peer
from benchmarks.scenarios import Ctx, _env

QUEUE = "bench-wf"
PRODUCERS = 50
TOP = 10


def _worker_argv(peer: Peer, url: str) -> list[str]:
    return [f"{peer.bin}/aqueue", "worker", QUEUE, "--url", url, "--concurrency",
            str(peer.concurrency), "--import", "benchmarks.tasks.workflow_tasks"]


def _commandstats(client: redis_py.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()
            if k != "cmdstat_info"}


def _run(ctx: Ctx, peer: Peer, label: str, jobs: int,
         produce: Callable[[str], Coroutine[Any, Any, None]]) -> dict[str, Any]:
    """Start a worker, enqueue with ``produce`` while it runs, wait for ``jobs`` ends."""
    with RedisServer(ctx.log_dir) as server:
        client = server.client
        assert client is not None
        argv = _worker_argv(peer, server.url)
        ctx.record(f"{peer.name}:worker", argv)
        procs = start_processes([argv], _env(peer, server.url), ctx.log(f"wf-{label}"))
        try:
            deadline = time.monotonic() + 30
            while not client.zcard("aq:{aq}:workers"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start")
                time.sleep(0.02)
            before, stats_before = server.snapshot(), _commandstats(client)
            started = time.monotonic()
            asyncio.run(produce(server.url))
            enqueued = time.monotonic() - started
            stats_key = f"aq:{{{QUEUE}}}:stats"
            deadline = time.monotonic() + 600
            while int(client.hget(stats_key, "finished") or 0) + int(
                    client.hget(stats_key, "canceled") or 0) < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: jobs did not all end")
                time.sleep(0.01)
            elapsed = time.monotonic() - started
            after, stats_after = server.snapshot(), _commandstats(client)
        finally:
            stop_processes(procs)
    by_command = {k: stats_after.get(k, 0) - stats_before.get(k, 0) for k in stats_after}
    top = sorted(by_command.items(), key=lambda kv: -kv[1])[:TOP]
    return {
        "jobs": jobs,
        "enqueue_s": enqueued,
        "elapsed_s": elapsed,
        "jobs_per_s": jobs / elapsed,
        "redis_cmds_per_job": per_job(after.cmds - before.cmds, jobs),
        "redis_cpu_ms_per_1k": per_job(after.cpu - before.cpu, jobs, 1e6),
        "top_commands_per_job": {k: round(v / jobs, 3) for k, v in top},
    }


async def _spread(n: int, one: Callable[[int], Awaitable[Any]]) -> None:
    """Call ``one(i)`` for i < n from PRODUCERS coroutines."""
    async def producer(start: int) -> None:
        for i in range(start, n, PRODUCERS):
            await one(i)

    await asyncio.gather(*(producer(p) for p in range(PRODUCERS)))


def chains(ctx: Ctx, peer: Peer, n: int) -> dict[str, Any]:
    """n two-step chains, and 2n plain jobs enqueued the same way, for comparison."""
    from aqueue import AsyncQueue, chain, step
    from benchmarks.tasks import workflow_tasks as t

    async def produce_chains(url: str) -> None:
        async with AsyncQueue(QUEUE, url=url) as queue:
            flow = chain(step(t.first), step(t.then))
            await _spread(n, lambda _: queue.enqueue_workflow(flow))

    async def produce_plain(url: str) -> None:
        async with AsyncQueue(QUEUE, url=url) as queue:
            await _spread(2 * n, lambda _: queue.enqueue(t.noop))

    result = _run(ctx, peer, "chains", 2 * n, produce_chains)
    plain = _run(ctx, peer, "plain", 2 * n, produce_plain)
    return {"chains": n, **result, "chains_per_s": n / result["elapsed_s"],
            **{f"plain_{k}": v for k, v in plain.items() if k != "jobs"}}


def groups(ctx: Ctx, peer: Peer, n: int, size: int) -> dict[str, Any]:
    """n groups of ``size`` members, each with a callback that gets their outcomes."""
    from aqueue import AsyncQueue, group, step
    from benchmarks.tasks import workflow_tasks as t

    flow = group(*(step(t.member, i) for i in range(size)), then=step(t.callback))

    async def produce(url: str) -> None:
        async with AsyncQueue(QUEUE, url=url) as queue:
            await _spread(n, lambda _: queue.enqueue_workflow(flow))

    result = _run(ctx, peer, "groups", n * (size + 1), produce)
    return {"groups": n, "group_size": size, **result,
            "groups_per_s": n / result["elapsed_s"]}
