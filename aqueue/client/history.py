"""A queue's history: its counters sampled once a minute and once an hour by the workers'
history plugin (``aqueue.plugins.history``), and the rates computed from them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

RESOLUTIONS = {"minute": 60, "hour": 3600}
MINUTES_KEPT = 1440  # a day of minutes
HOURS_KEPT = 2160  # 90 days of hours


@dataclass(frozen=True, slots=True)
class HistorySample:
    """The queue at one minute (or hour): totals since it began, and depths then."""

    at: float  # Unix time of the start of the minute (hour), by Redis's clock
    enqueued: int
    finished: int
    failed: int
    retried: int
    canceled: int
    queued: int
    scheduled: int
    started: int
    failed_now: int  # jobs in the failed registry

    @classmethod
    def parse(cls, line: bytes | str) -> HistorySample:
        text = line.decode() if isinstance(line, bytes) else line
        parts = text.split()
        if len(parts) != 10:
            raise ValueError(f"not a history sample: {text[:80]!r}")
        at, *numbers = (int(p) for p in parts)
        return cls(float(at), *numbers)


@dataclass(frozen=True, slots=True)
class Rate:
    """What happened between two samples, per minute."""

    at: float  # end of the interval
    seconds: float
    finished: float  # jobs per minute
    failed: float
    enqueued: float
    retried: float

    @property
    def failure_rate(self) -> float | None:
        """Failed / (finished + failed) in the interval; None if nothing ended."""
        ended = self.finished + self.failed
        return self.failed / ended if ended else None


def rates(samples: Sequence[HistorySample]) -> list[Rate]:
    """Rates between consecutive samples (oldest first). A counter that went down (the
    stats were reset) counts as zero for that interval."""
    out = []
    for before, after in itertools.pairwise(samples):
        seconds = after.at - before.at
        if seconds <= 0:
            continue
        k = 60.0 / seconds
        out.append(Rate(after.at, seconds, max(0, after.finished - before.finished) * k,
                        max(0, after.failed - before.failed) * k,
                        max(0, after.enqueued - before.enqueued) * k,
                        max(0, after.retried - before.retried) * k))
    return out
