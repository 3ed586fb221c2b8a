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


async def stall_first_delivery(label: str) -> str:
    """Hangs on its first delivery (its worker is to be killed), returns on the next."""
    from aqueue import current_job

    if current_job().delivery == 1:
        await asyncio.sleep(3600)
    return label
