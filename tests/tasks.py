"""Functions the test workers are allowed to run (``--import tests.tasks``)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from aqueue import task
from tests.elsewhere import defined_elsewhere  # noqa: F401  (imported, not defined here)

calls: list[str] = []
running = 0
max_running = 0
cancelled: list[str] = []
_lock = threading.Lock()


def reset() -> None:
    global running, max_running
    calls.clear()
    cancelled.clear()
    running = max_running = 0


async def add(a: int, b: int) -> int:
    return a + b


def multiply(a: int, b: int) -> int:
    return a * b


async def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


async def record(label: str) -> str:
    calls.append(label)
    return label


async def sleep_and_count(seconds: float) -> None:
    global running, max_running
    running += 1
    max_running = max(max_running, running)
    try:
        await asyncio.sleep(seconds)
    finally:
        running -= 1


async def sleep_forever(label: str) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.append(label)
        raise


def blocking_sleep(seconds: float) -> str:
    time.sleep(seconds)
    return threading.current_thread().name


async def fail(message: str) -> None:
    raise ValueError(message)


async def fail_times(key: str, times: int) -> str:
    """Fails the first `times` calls for `key`, then succeeds."""
    calls.append(key)
    if calls.count(key) <= times:
        raise RuntimeError(f"attempt {calls.count(key)} failed")
    return "ok"


async def returns_unserializable() -> object:
    return object()


def pid() -> int:
    return os.getpid()


class Greeter:
    @staticmethod
    async def hello(name: str) -> str:
        return f"hello {name}"


async def block_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # the mistake the watchdog is there to catch


class _ExplodingMeta(type):
    @property
    def boom(cls) -> None:
        raise RuntimeError("attribute lookup exploded")


class Exploding(metaclass=_ExplodingMeta):
    """Looking up ``Exploding.boom`` raises: an error aqueue does not expect."""


async def raise_cancelled() -> None:
    raise asyncio.CancelledError  # a job's own bug, not the worker cancelling it


async def whoami() -> dict[str, Any]:
    from aqueue import current_job

    info = current_job()
    return {"id": info.id, "queue": info.queue, "func": info.func, "attempt": info.attempt}


def whoami_in_thread() -> str:
    from aqueue import current_job

    return current_job().id


async def whoami_delivery() -> int:
    from aqueue import current_job

    return current_job().delivery


@task(job_timeout=30)
async def greet(name: str, punctuation: str = "!") -> str:
    """A typed task (aqueue.tasks) the workers of the tests may run."""
    return f"hello {name}{punctuation}"


async def sleep_then_pid(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return os.getpid()
