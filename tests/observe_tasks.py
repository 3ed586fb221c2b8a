"""Jobs for the observability tests (``--import tests.observe_tasks``)."""

from __future__ import annotations

import asyncio
import os
import time

from aqueue import AsyncQueue, current_job


async def noop() -> None:
    return None


async def fail(message: str) -> None:
    raise ValueError(message)


async def nap(seconds: float) -> None:
    await asyncio.sleep(seconds)


def thread_nap(seconds: float) -> None:
    time.sleep(seconds)


async def block_loop_on_first_delivery(seconds: float) -> str:
    """Blocks the worker's event loop (the mistake the watchdog warns about) on its first
    delivery only, so that the worker it is handed to next finishes it."""
    if current_job().delivery == 1:
        time.sleep(seconds)
        return "blocked"
    return "ran again"


async def enqueue_child(url: str, queue_name: str) -> str:
    """Enqueues ``noop`` from inside a job; returns the child's id."""
    async with AsyncQueue(queue_name, url=url) as queue:
        return (await queue.enqueue(noop)).id


async def trace_ids() -> list[str]:
    """The trace and span ids current in the job's coroutine."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return [format(context.trace_id, "032x"), format(context.span_id, "016x")]


def trace_ids_in_thread() -> list[str]:
    """The same, from a plain def job's thread."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return [format(context.trace_id, "032x"), format(context.span_id, "016x")]


def pid() -> int:
    return os.getpid()
