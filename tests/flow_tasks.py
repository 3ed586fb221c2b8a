"""Functions for the flow-control tests' workers (``--import tests.flow_tasks``)."""

from __future__ import annotations

import asyncio
import time

started: list[tuple[str, float]] = []


async def note(label: str, seconds: float = 0.0) -> str:
    """Record when it started (in this process), sleep, return the label."""
    started.append((label, time.time()))
    if seconds:
        await asyncio.sleep(seconds)
    return label


async def hold(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


def reset() -> None:
    started.clear()
