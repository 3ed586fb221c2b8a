"""Retry policies: how many times a failed job runs again, and after how long."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Retry:
    """Run a failed job again up to ``max`` times.

    ``interval`` is seconds before each retry: a number, or a list whose last value
    repeats (``Retry(max=3, interval=[10, 30, 60])``). ``Retry.exponential`` doubles
    the wait each time, with jitter so that many failing jobs do not retry in step.
    """

    max: int
    interval: float | Sequence[float] = 0.0
    backoff: float | None = None
    max_interval: float | None = None
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.max < 0:
            raise ValueError(f"Retry max must be >= 0, got {self.max}")
        intervals = self.intervals
        if not intervals or any(i < 0 for i in intervals):
            raise ValueError(f"Retry interval must be non-negative, got {self.interval!r}")
        if self.backoff is not None and self.backoff < 1:
            raise ValueError(f"Retry backoff factor must be >= 1, got {self.backoff}")

    @classmethod
    def exponential(
        cls, max: int, base: float = 1.0, factor: float = 2.0, cap: float = 300.0,
        jitter: bool = True,
    ) -> Retry:
        """``base``, ``base*factor``, ``base*factor**2``... seconds, capped at ``cap``."""
        return cls(max=max, interval=base, backoff=factor, max_interval=cap, jitter=jitter)

    @property
    def intervals(self) -> tuple[float, ...]:
        if isinstance(self.interval, int | float):
            return (float(self.interval),)
        return tuple(float(i) for i in self.interval)

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        intervals = self.intervals
        if self.backoff is not None:
            delay = intervals[0] * self.backoff ** (retry_number - 1)
        else:
            delay = intervals[min(retry_number, len(intervals)) - 1]
        if self.max_interval is not None:
            delay = min(delay, self.max_interval)
        if self.jitter:
            delay = delay / 2 + random.uniform(0, delay / 2)
        return delay

    def to_json(self) -> str:
        return json.dumps(
            {"max": self.max, "interval": list(self.intervals), "backoff": self.backoff,
             "max_interval": self.max_interval, "jitter": self.jitter},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Retry:
        raw = json.loads(data)
        return cls(max=int(raw["max"]), interval=tuple(raw["interval"]), backoff=raw["backoff"],
                   max_interval=raw["max_interval"], jitter=bool(raw["jitter"]))
