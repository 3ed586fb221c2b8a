"""Jobs for `aqueue worker bench --import benchmarks.tasks.aqueue_tasks`."""

import asyncio
import time


async def noop() -> None:
    return None


async def sleep_job() -> None:
    await asyncio.sleep(0.05)


async def stamp() -> float:
    """When the job ended, by the host's clock (wake-up latency, start-up time)."""
    return time.time()


async def sink(data: str) -> None:
    """Takes one (large) argument and drops it."""
    return None
