"""Worker and tasks for `streaq run benchmarks.tasks.streaq_tasks:worker`."""

import asyncio
import os
import time

from streaq import Worker

worker = Worker(
    redis_url=os.environ.get("BENCH_REDIS_URL", ""),
    concurrency=int(os.environ.get("BENCH_CONCURRENCY", "200")),
    queue_name="bench",
)


@worker.task()
async def noop() -> None:
    return None


@worker.task()
async def sleep_job() -> None:
    await asyncio.sleep(0.05)


@worker.task()
async def stamp() -> float:
    return time.time()


@worker.task()
async def sink(data: str) -> None:
    return None
