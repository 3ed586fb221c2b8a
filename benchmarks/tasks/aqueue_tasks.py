"""Jobs for `aqueue worker bench --import benchmarks.tasks.aqueue_tasks`."""

import asyncio


async def noop() -> None:
    return None


async def sleep_job() -> None:
    await asyncio.sleep(0.05)
