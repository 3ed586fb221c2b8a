"""Jobs and settings for `saq benchmarks.tasks.saq_tasks.settings`."""

import asyncio
import os
import time
from typing import Any

from saq import Queue

QUEUE_NAME = "bench"


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def sleep_job(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(0.05)


async def stamp(ctx: dict[str, Any]) -> float:
    return time.time()


async def sink(ctx: dict[str, Any], data: str) -> None:
    return None


settings = {
    "queue": Queue.from_url(os.environ.get("BENCH_REDIS_URL", ""), name=QUEUE_NAME),
    "functions": [noop, sleep_job, stamp, sink],
    "concurrency": int(os.environ.get("BENCH_CONCURRENCY", "200")),
}
