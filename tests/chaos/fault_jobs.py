"""Misbehaving job functions for the fault tests (``--import tests.chaos.fault_jobs``).

Each one records its start (and, when it gets there, its end) in the chaos ledger, like
``tests.chaos.jobs``, and returns the same kind of result, so ``Chaos.verify`` can check
the jobs that are meant to finish.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import NoReturn

from aqueue import current_job
from tests.chaos import jobs

KINDS = ("SystemExit", "KeyboardInterrupt", "JobBaseException")


class JobBaseException(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


def _exception(kind: str, message: str) -> BaseException:
    types: dict[str, type[BaseException]] = {
        "SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt,
        "JobBaseException": JobBaseException}
    return types[kind](message)


async def _start(tag: str) -> None:
    await jobs._aledger().rpush(jobs.STARTS + tag, jobs._stamp())


async def _end(tag: str) -> None:
    await jobs._aledger().rpush(jobs.ENDS + tag, jobs._stamp())


def _result(value: int) -> dict[str, int]:
    return {"value": jobs.expected_value(value), "pid": os.getpid()}


async def block_loop_once(tag: str, seconds: float, value: int) -> dict[str, int]:
    """On its first delivery, block the event loop for ``seconds`` (the mistake of calling
    blocking code in an ``async def``); on a later delivery, return at once."""
    await _start(tag)
    if current_job().delivery == 1:
        time.sleep(seconds)
    await _end(tag)
    return _result(value)


async def work_by_delivery(tag: str, first_ms: int, later_ms: int,
                           value: int) -> dict[str, int]:
    """Like ``jobs.work``, sleeping ``first_ms`` on the first delivery, ``later_ms`` after."""
    await _start(tag)
    await asyncio.sleep((first_ms if current_job().delivery == 1 else later_ms) / 1000)
    await _end(tag)
    return _result(value)


async def raise_base(tag: str, kind: str, message: str) -> None:
    """Raise ``kind`` (one of ``KINDS``) from the job's coroutine."""
    await _start(tag)
    raise _exception(kind, message)


def raise_base_sync(tag: str, kind: str, message: str) -> None:
    """Raise ``kind`` from a plain ``def`` job, in its worker thread."""
    jobs._ledger().rpush(jobs.STARTS + tag, jobs._stamp())
    raise _exception(kind, message)


async def _exit(message: str) -> NoReturn:
    raise SystemExit(message)


async def exit_in_background(tag: str, message: str) -> None:
    """Start a task that raises SystemExit, then carry on for a second."""
    await _start(tag)
    background = asyncio.create_task(_exit(message))
    await asyncio.sleep(1.0)
    await _end(tag)
    del background


async def ignore_cancel(tag: str, seconds: float) -> None:
    """Run for ``seconds``, swallowing every cancellation (the bug of ``except
    CancelledError: pass`` in a loop, or of a library that does it)."""
    await _start(tag)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:  # noqa: SIM105  (spelled out: this is the bug)
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        except asyncio.CancelledError:
            pass
    await _end(tag)


def hang_sync(tag: str, seconds: float) -> None:
    """A plain ``def`` job stuck for ``seconds`` (a call without a timeout)."""
    jobs._ledger().rpush(jobs.STARTS + tag, jobs._stamp())
    time.sleep(seconds)
    jobs._ledger().rpush(jobs.ENDS + tag, jobs._stamp())


def sleep_sync(tag: str, seconds: float, value: int) -> dict[str, int]:
    """A plain ``def`` job that sleeps ``seconds`` and finishes."""
    jobs._ledger().rpush(jobs.STARTS + tag, jobs._stamp())
    time.sleep(seconds)
    jobs._ledger().rpush(jobs.ENDS + tag, jobs._stamp())
    return _result(value)


async def fail_with(tag: str, size: int) -> None:
    """Fail with a message of ``size`` characters."""
    await _start(tag)
    raise ValueError("m" * size)
