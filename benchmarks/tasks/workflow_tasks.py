"""Jobs for the workflow scenarios (benchmarks/scenarios_workflows.py)."""

from typing import Any


async def first() -> int:
    return 1


async def then(previous: int) -> int:
    """A chain's second step: receives the first step's result."""
    return previous + 1


async def member(i: int) -> int:
    return i


async def callback(outcomes: list[Any]) -> int:
    """A group's callback: receives its members' outcomes."""
    return len(outcomes)


async def noop() -> None:
    return None
