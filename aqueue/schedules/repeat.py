"""``Repeat``: a schedule with its misfire policy and limits, as one storable definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aqueue.schedules._instants import (
    canonical_json,
    from_iso,
    iso,
    load_object,
    optional_aware_utc,
    sha256_hex,
)
from aqueue.schedules.cron import Cron
from aqueue.schedules.due import DueTicks, due_ticks
from aqueue.schedules.every import Every
from aqueue.schedules.misfire import DEFAULT_MISFIRE, Misfire
from aqueue.schedules.schedule import Schedule

SCHEDULE_TYPES: dict[str, type[Cron] | type[Every]] = {"cron": Cron, "every": Every}


def schedule_from_dict(data: dict[str, Any]) -> Cron | Every:
    """The schedule that ``to_dict()`` described, by its ``"type"``."""
    kind = data.get("type")
    if kind not in SCHEDULE_TYPES:
        raise ValueError(f"unknown schedule type {kind!r}; expected one of "
                         f"{', '.join(SCHEDULE_TYPES)}")
    return SCHEDULE_TYPES[kind].from_dict(data)


def schedule_from_json(data: str | bytes) -> Cron | Every:
    """The schedule that ``to_json()`` wrote."""
    return schedule_from_dict(load_object(data, "schedule"))


@dataclass(frozen=True, slots=True)
class Repeat:
    """When a repeating job runs: ``schedule``, ``misfire`` policy, ``limit`` and ``until``.

    ``limit`` caps the runs in total; ``until`` admits no tick after it. A worker calls
    ``due(last_tick, now, runs)`` and stores ``fingerprint()`` to notice a changed definition.
    """

    schedule: Schedule
    misfire: Misfire = DEFAULT_MISFIRE
    limit: int | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise TypeError(f"schedule must be a Cron or an Every, got {self.schedule!r}")
        if not isinstance(self.misfire, Misfire):
            raise TypeError(f"misfire must be a Misfire, got {self.misfire!r}")
        if self.limit is not None and (isinstance(self.limit, bool)
                                       or not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be an int >= 1 or None, got {self.limit!r}")
        object.__setattr__(self, "until", optional_aware_utc(self.until, "until"))

    def due(self, last_tick: datetime | None, now: datetime, runs: int = 0) -> DueTicks:
        """``due_ticks`` for this definition."""
        return due_ticks(self.schedule, last_tick, now, self.misfire, runs=runs,
                         limit=self.limit, until=self.until)

    def describe(self) -> str:
        text = self.schedule.describe()
        if self.limit is not None:
            text += f", {self.limit} time{'s' if self.limit > 1 else ''} at most"
        if self.until is not None:
            text += f", until {self.until:%Y-%m-%d %H:%M:%S} UTC"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule.to_dict(), "misfire": self.misfire.to_dict(),
                "limit": self.limit, "until": iso(self.until)}

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def fingerprint(self) -> str:
        """A SHA-256 hex digest of the normalized definition, stable across processes."""
        normalized = self.to_dict() | {"schedule": self.schedule.normalized()}
        return sha256_hex(canonical_json(normalized))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Repeat:
        return cls(schedule=schedule_from_dict(data["schedule"]),
                   misfire=Misfire.from_dict(data.get("misfire") or DEFAULT_MISFIRE.to_dict()),
                   limit=data.get("limit"), until=from_iso(data.get("until"), "until"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Repeat:
        return cls.from_dict(load_object(data, "Repeat"))
