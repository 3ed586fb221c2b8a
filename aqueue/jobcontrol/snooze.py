"""``Snooze``: a job puts itself back for a while, without counting a failure."""

from __future__ import annotations

import math

MAX_SNOOZE = 365 * 24 * 3600.0


class Snooze(BaseException):
    """Raise ``Snooze(seconds)`` in a job to run it again that many seconds from now.

    It is no failure and no retry: ``attempts`` stays, the retry policy is not consulted,
    and the attempt is listed in the job's history as ``snooze``. (A ``BaseException``,
    so that a job's ``except Exception`` does not swallow it.)"""

    def __init__(self, seconds: float) -> None:
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise TypeError(f"Snooze takes seconds (a number), got {type(seconds).__name__}")
        if not 0 <= seconds <= MAX_SNOOZE or math.isnan(seconds):
            raise ValueError(f"Snooze takes 0 to {MAX_SNOOZE:g} seconds, got {seconds!r}")
        super().__init__(seconds)
        self.seconds = float(seconds)
