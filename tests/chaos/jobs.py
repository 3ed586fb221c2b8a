"""Job functions run by the chaos workers (``--import tests.chaos.jobs``).

Each execution is written to a *ledger*, a redis-server of its own that the chaos never
touches (its URL comes from ``$CHAOS_LEDGER_URL``): ``chaos:starts:<tag>`` and
``chaos:ends:<tag>`` get one ``"<pid> <unix time>"`` entry per execution. The test then
counts executions per job, sees which process ran each, and when.

The result names the process that produced it, so the test can tell whose result the
queue kept.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import redis
import redis.asyncio as aredis

LEDGER_ENV = "CHAOS_LEDGER_URL"
STARTS = "chaos:starts:"
ENDS = "chaos:ends:"

_async_ledger: aredis.Redis | None = None
_sync_ledger: redis.Redis | None = None
_lock = threading.Lock()


def expected_value(value: int) -> int:
    """What ``work(tag, ms, value)`` computes."""
    return value * 2 + 1


def _stamp() -> str:
    return f"{os.getpid()} {time.time()!r}"


def _ledger_url() -> str:
    url = os.environ.get(LEDGER_ENV)
    if not url:
        raise RuntimeError(f"${LEDGER_ENV} is not set: the chaos harness passes it to workers")
    return url


def _aledger() -> aredis.Redis:
    # One worker process runs one event loop, so one lazily created client is enough.
    global _async_ledger
    if _async_ledger is None:
        _async_ledger = aredis.Redis.from_url(_ledger_url())
    return _async_ledger


def _ledger() -> redis.Redis:
    global _sync_ledger
    with _lock:
        if _sync_ledger is None:
            _sync_ledger = redis.Redis.from_url(_ledger_url())
        return _sync_ledger


async def work(tag: str, ms: int, value: int) -> dict[str, int]:
    """Async job: record the start, sleep ``ms`` milliseconds, record the end."""
    ledger = _aledger()
    await ledger.rpush(STARTS + tag, _stamp())
    await asyncio.sleep(ms / 1000)
    await ledger.rpush(ENDS + tag, _stamp())
    return {"value": expected_value(value), "pid": os.getpid()}


def work_sync(tag: str, ms: int, value: int) -> dict[str, int]:
    """The same as a plain ``def``: the worker runs it in a thread."""
    ledger = _ledger()
    ledger.rpush(STARTS + tag, _stamp())
    time.sleep(ms / 1000)
    ledger.rpush(ENDS + tag, _stamp())
    return {"value": expected_value(value), "pid": os.getpid()}


async def measure(tag: str, data: str) -> dict[str, int]:
    """Async job over a (possibly huge) argument: its value is the argument's length."""
    ledger = _aledger()
    await ledger.rpush(STARTS + tag, _stamp())
    await ledger.rpush(ENDS + tag, _stamp())
    return {"value": len(data), "pid": os.getpid()}
