"""A thread that warns while the event loop is blocked, naming the running jobs."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("aqueue.worker")


class LoopWatchdog:
    """Warns while the event loop is blocked, before the block costs the worker its leases.

    A coroutine stamps the time every ``interval``; a thread checks the stamp and warns,
    naming the running jobs, once the loop has been stuck for ``lease / 3`` seconds. A
    blocked loop cannot renew leases, so a job that blocks it for longer than the lease
    is handed to another worker: the warning says which job to fix.
    """

    def __init__(self, lease: float, describe_running: Callable[[], str],
                 interval: float = 0.1) -> None:
        self.threshold = max(0.5, lease / 3)
        self.describe_running = describe_running
        self.interval = interval
        self.stalls = 0
        self.on_lag: Callable[[float], None] | None = None  # each tick's delay (metrics)
        self._last_tick = time.monotonic()
        self._stop = threading.Event()

    async def run(self) -> None:
        thread = threading.Thread(target=self._watch, name="aqueue-watchdog", daemon=True)
        thread.start()
        try:
            self._last_tick = time.monotonic()
            while True:
                await asyncio.sleep(self.interval)
                now = time.monotonic()
                if self.on_lag is not None:
                    self.on_lag(now - self._last_tick - self.interval)
                self._last_tick = now
        finally:
            self._stop.set()

    def blocked_for(self) -> float:
        """Seconds since the loop last ticked (callable from any thread: while the loop is
        blocked, this keeps growing)."""
        return max(0.0, time.monotonic() - self._last_tick - self.interval)

    def _watch(self) -> None:
        warned_for = 0.0
        while not self._stop.wait(self.interval):
            tick = self._last_tick
            stuck = time.monotonic() - tick
            if stuck >= self.threshold and warned_for != tick:
                warned_for = tick
                self.stalls += 1
                try:
                    running = self.describe_running()
                except RuntimeError:  # the loop thread changed the dict meanwhile
                    running = "(unknown)"
                logger.warning(
                    "event loop blocked for %.1f s so far: a coroutine is running blocking code "
                    "(make it a plain def; it then runs in a thread). Leases are not renewed "
                    "while the loop is blocked. Running: %s", stuck, running)
