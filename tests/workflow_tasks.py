"""Functions for the workflow tests' workers (``tests.workflow_tasks``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aqueue.workflow.inputs import Outcome

ran: list[str] = []


def reset() -> None:
    ran.clear()


async def note(label: str, seconds: float = 0.0) -> str:
    """Record that it ran (in this process), sleep, return the label."""
    ran.append(label)
    if seconds:
        await asyncio.sleep(seconds)
    return label


async def boom(message: str) -> None:
    ran.append(f"boom:{message}")
    raise RuntimeError(message)


async def add(previous: int, n: int) -> int:
    """A chain step: the previous step's result plus ``n``."""
    return previous + n


async def number(n: int) -> int:
    return n


def total(outcomes: list[Outcome[int]]) -> int:
    """A group callback: the sum of the members that finished."""
    return sum(o.result or 0 for o in outcomes if o.ok)


def describe(outcomes: list[Outcome[Any]]) -> list[str]:
    """A group callback: each member's status, in order."""
    return [str(o.status) for o in outcomes]


async def wait(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds
