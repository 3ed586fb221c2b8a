"""Why the fetcher holds off claiming: while Redis refuses to record outcomes, while
plain ``def`` jobs wait for a thread, while every job thread is stuck. Each reason is
set and cleared by the part of the worker that knows; the fetcher claims while there
is none."""

from __future__ import annotations

import asyncio
import logging
import time

from aqueue.log_text import clip_message

logger = logging.getLogger("aqueue.worker")

WRITES_REFUSED = "Redis refusing writes"
WRITES_QUIET = 1.0  # claim again after a write succeeds this long after the last refusal
THREADS_BUSY = "def jobs waiting for a thread"
THREADS_STUCK = "every job thread stuck"


class ClaimGate:
    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}
        self._closed_at: dict[str, float] = {}  # the last close() of each reason
        self._open = asyncio.Event()
        self._open.set()

    @property
    def is_open(self) -> bool:
        return not self._reasons

    def holds(self, reason: str) -> bool:
        return reason in self._reasons

    def close(self, reason: str, detail: str = "", level: int = logging.DEBUG) -> None:
        """Hold off claiming for ``reason`` (logged at ``level`` the first time)."""
        if reason not in self._reasons:
            logger.log(level, "not claiming new jobs: %s%s", reason,
                       f" ({clip_message(detail)})" if detail else "")
        self._reasons[reason] = detail
        self._closed_at[reason] = time.monotonic()
        self._open.clear()

    def reopen(self, reason: str, level: int = logging.DEBUG, quiet_for: float = 0.0) -> None:
        """``reason`` is over, unless it was given again within ``quiet_for`` seconds (a
        Redis hovering at maxmemory takes a write now and then); claim again once no
        other reason holds."""
        if reason in self._reasons:
            closed_at = self._closed_at[reason]
            wait = closed_at + quiet_for - time.monotonic()
            if wait > 0:  # look again then: reopen if nothing closed it meanwhile
                asyncio.get_running_loop().call_later(wait, self._reopen_if_quiet, reason,
                                                      closed_at, level)
                return
        if self._reasons.pop(reason, None) is not None:
            still = f"; still not claiming: {', '.join(self._reasons)}" if self._reasons else ""
            logger.log(level, "over: %s%s", reason, still or "; claiming new jobs again")
        if not self._reasons:
            self._open.set()

    def _reopen_if_quiet(self, reason: str, closed_at: float, level: int) -> None:
        if self._closed_at.get(reason) == closed_at:
            self.reopen(reason, level)

    async def wait_open(self) -> None:
        await self._open.wait()
