"""Jobs and callbacks for the job-control tests (cancel, meta, progress, snooze...)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aqueue import JobFailed, JobInfo, Snooze, current_job

observed: dict[str, Any] = {}  # what jobs and callbacks saw, by label
thread_ended = threading.Event()


async def run_until_canceled(label: str) -> str:
    observed[label] = "running"
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        observed[label] = ("cancelled", time.perf_counter())
        raise
    return "not canceled"


def blocking_until(seconds: float) -> str:
    time.sleep(seconds)
    thread_ended.set()
    return "late"


async def report_progress(steps: int) -> str:
    job = current_job()
    job.update_meta(stage="started")
    for step in range(1, steps + 1):
        job.set_progress(step, total=steps, message=f"step {step}")
        await asyncio.sleep(0.02)
    job.update_meta(stage="done", steps=steps)
    return "ok"


def report_progress_in_thread(steps: int) -> str:
    job = current_job()
    for step in range(1, steps + 1):
        job.set_progress(step, total=steps)
    job.update_meta(thread=True)
    return "ok"


async def add(a: int, b: int) -> int:
    return a + b


async def fail(message: str) -> None:
    raise ValueError(message)


async def snooze_once(label: str, seconds: float) -> int:
    info = current_job()
    count = observed.get(label, 0) + 1
    observed[label] = count
    if count == 1:
        info.snooze(seconds)
    return info.attempt


async def raise_snooze(seconds: float) -> None:
    raise Snooze(seconds)


async def fail_then_succeed(label: str) -> str:
    count = observed.get(label, 0) + 1
    observed[label] = count
    if count == 1:
        raise RuntimeError("first try fails")
    return "second try"


async def on_success(job: JobInfo, result: Any) -> None:
    observed[f"success:{job.id}"] = result


def on_failure(job: JobInfo, error: JobFailed) -> None:
    observed[f"failure:{job.id}"] = (error.exc_type, error.exc_message)


async def broken_callback(job: JobInfo, result: Any) -> None:
    raise RuntimeError("callback broke")


def snooze_in_thread(label: str) -> str:
    count = observed.get(label, 0) + 1
    observed[label] = count
    if count == 1:
        current_job().snooze(0.2)
    return "woke"
