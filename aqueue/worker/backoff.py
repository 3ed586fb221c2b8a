"""Capped exponential backoff for loops that must survive Redis going away."""

from __future__ import annotations

import logging
import random


class Backoff:
    """Delays of 0.05 s doubling to ``cap``, with jitter; ``reset()`` after a success."""

    def __init__(self, first: float = 0.05, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay: float = min(self.cap, self.first * 2.0 ** self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0

    def log(self, logger: logging.Logger, what: str, exc: BaseException) -> float:
        delay = self.next_delay()
        level = logging.WARNING if self.failures <= 1 or self.failures % 10 == 0 else logging.DEBUG
        logger.log(level, "%s failed (%s: %s); retrying in %.2f s", what, type(exc).__name__,
                   exc, delay)
        return delay
