"""Jobs and WorkerSettings for `arq benchmarks.tasks.arq_tasks.WorkerSettings`."""

import asyncio
import os
import time
from typing import Any

from arq.connections import RedisSettings


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def sleep_job(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(0.05)


async def stamp(ctx: dict[str, Any]) -> float:
    return time.time()


async def sink(ctx: dict[str, Any], data: str) -> None:
    return None


class WorkerSettings:
    functions = [noop, sleep_job, stamp, sink]  # noqa: RUF012
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_REDIS_URL", ""))
    max_jobs = int(os.environ.get("BENCH_CONCURRENCY", "200"))
