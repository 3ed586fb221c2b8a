"""Broker and tasks for `taskiq worker benchmarks.tasks.taskiq_tasks:broker`."""

import asyncio
import os
import time

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

URL = os.environ.get("BENCH_REDIS_URL", "")

broker = RedisStreamBroker(url=URL, queue_name="bench").with_result_backend(
    RedisAsyncResultBackend(redis_url=URL, result_ex_time=600)
)


@broker.task
async def noop() -> None:
    return None


@broker.task
async def sleep_job() -> None:
    await asyncio.sleep(0.05)


@broker.task
async def stamp() -> float:
    return time.time()


@broker.task
async def sink(data: str) -> None:
    return None
