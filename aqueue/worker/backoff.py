"""Capped exponential backoff for loops that must survive Redis going away."""

from __future__ import annotations

import logging
import random
import time

from aqueue.log_text import clip_message


class Backoff:
    """Delays of 0.05 s doubling to ``cap``, with jitter; ``reset()`` after a success.

    A loop that logged failures through ``log()`` also says when it works again, and
    after how long: "claiming jobs works again after 4.2 s"."""

    def __init__(self, first: float = 0.05, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0
        self._since: float | None = None
        self._what = ""
        self._logger: logging.Logger | None = None

    def next_delay(self) -> float:
        delay: float = min(self.cap, self.first * 2.0 ** self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        if self._since is not None and self._logger is not None:
            self._logger.warning("%s works again after %.1f s (Redis is back)", self._what,
                                 time.monotonic() - self._since)
        self.failures = 0
        self._since = None

    def log(self, logger: logging.Logger, what: str, exc: BaseException) -> float:
        if self._since is None:
            self._since, self._what, self._logger = time.monotonic(), what, logger
        delay = self.next_delay()
        level = logging.WARNING if self.failures <= 1 or self.failures % 10 == 0 else logging.DEBUG
        logger.log(level, "%s failed (%s: %s); retrying in %.2f s", what, type(exc).__name__,
                   clip_message(exc), delay)
        return delay
