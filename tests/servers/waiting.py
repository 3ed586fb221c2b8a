"""Polling until a condition holds, with a failure message that says what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis


class NotReady(Exception):
    """Raised by a check to say why the awaited state is not there yet."""


def wait_until(
    check: Callable[[], None], timeout: float, what: str,
    describe: Callable[[], str] = lambda: "", interval: float = 0.02,
) -> float:
    """Call ``check`` until it returns without raising ``NotReady`` (or a Redis
    connection error, as from a node still starting); returns the seconds it took.
    After ``timeout`` seconds, fails with the last reason and ``describe()``."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            check()
            return time.monotonic() - started
        except (NotReady, redis.ConnectionError, redis.TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timed out after {timeout:g} s waiting for {what}; last: {reason}\n"
                f"{describe()}")
        time.sleep(interval)
