"""What every schedule offers: the next tick, the last one, a description and a fingerprint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from aqueue.schedules._instants import aware_utc, canonical_json, sha256_hex


class Schedule(ABC):
    """A rule that yields ticks: instants at which a repeating job is due.

    Every method takes aware datetimes (a naive one is a ``TypeError``) and returns aware
    UTC datetimes. Subclasses are frozen dataclasses, so a schedule is a value: equal
    definitions compare equal, and ``fingerprint()`` tells two stored definitions apart.
    """

    __slots__ = ()

    @abstractmethod
    def next_after(self, t: datetime) -> datetime:
        """The first tick strictly after ``t``."""

    @abstractmethod
    def last_at_or_before(self, t: datetime) -> datetime | None:
        """The latest tick at or before ``t``, or None if there is none."""

    @abstractmethod
    def describe(self) -> str:
        """A short description for people, e.g. ``"every 15 minutes"``."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The definition as plain JSON-ready data, with a ``"type"`` key."""

    @abstractmethod
    def normalized(self) -> dict[str, Any]:
        """The definition with equivalent spellings made equal (what ``fingerprint`` hashes)."""

    def upcoming(self, t: datetime, n: int) -> list[datetime]:
        """The first ``n`` ticks strictly after ``t``, oldest first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        ticks: list[datetime] = []
        tick = aware_utc(t, "t")
        for _ in range(n):
            tick = self.next_after(tick)
            ticks.append(tick)
        return ticks

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def fingerprint(self) -> str:
        """A SHA-256 hex digest of the normalized definition, stable across processes."""
        return sha256_hex(canonical_json(self.normalized()))
