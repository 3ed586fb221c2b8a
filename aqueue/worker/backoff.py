"""Capped exponential backoff for loops that must survive Redis going away."""

from __future__ import annotations

import logging
import random

from redis.exceptions import RedisError, ResponseError

from aqueue.worker.log_text import clip_message

# Errors a worker loop waits out: Redis unreachable, or refusing for now (out of memory,
# READONLY replica after a failover, MISCONF...). Loops log them and retry with backoff.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)

# Error replies that say "not now" rather than "never": anything else is about the request.
_TRANSIENT_REPLIES = ("OOM", "LOADING", "READONLY", "MISCONF", "BUSY", "MASTERDOWN",
                      "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT")


def is_request_error(exc: BaseException) -> bool:
    """An error reply that sending the same request again will not cure."""
    return isinstance(exc, ResponseError) and not str(exc).startswith(_TRANSIENT_REPLIES)


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
                   clip_message(exc), delay)
        return delay
