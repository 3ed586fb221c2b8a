"""``Every``: a tick every fixed interval of real (elapsed) time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aqueue.schedules._instants import (
    as_timedelta,
    aware_utc,
    from_iso,
    iso,
    load_object,
    optional_aware_utc,
    seconds_of,
)
from aqueue.schedules.schedule import Schedule

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_INTERVAL = timedelta(seconds=1)


@dataclass(frozen=True, slots=True, init=False)
class Every(Schedule):
    """Ticks at ``anchor + k * interval`` for k = 0, 1, 2, ...

    ``interval`` is a ``timedelta`` or seconds, at least one second. Without an
    ``anchor`` the ticks are aligned to the Unix epoch, so ``Every(timedelta(minutes=15))``
    ticks at :00, :15, :30 and :45 and every worker computes the same instants. With an
    ``anchor`` the first tick is the anchor itself and none come before it.

    The interval is elapsed time, untouched by daylight saving: ``Every(timedelta(days=1))``
    is every 24 hours, which drifts by an hour on the local clock twice a year. For "at
    02:30 every day" use ``Cron("30 2 * * *", timezone=...)``.
    """

    interval: timedelta
    anchor: datetime | None = None
    _origin: datetime = field(init=False, repr=False, compare=False)

    def __init__(self, interval: timedelta | float, anchor: datetime | None = None) -> None:
        delta = as_timedelta(interval, "interval")
        if delta < MIN_INTERVAL:
            raise ValueError(f"interval must be at least 1 second, got {delta!r}")
        start = optional_aware_utc(anchor, "anchor")
        object.__setattr__(self, "interval", delta)
        object.__setattr__(self, "anchor", start)
        object.__setattr__(self, "_origin", EPOCH if start is None else start)

    def next_after(self, t: datetime) -> datetime:
        after = aware_utc(t, "t")
        if after < self._origin:
            return self._origin
        return self._origin + ((after - self._origin) // self.interval + 1) * self.interval

    def last_at_or_before(self, t: datetime) -> datetime | None:
        upto = aware_utc(t, "t")
        if upto < self._origin:
            return None
        return self._origin + ((upto - self._origin) // self.interval) * self.interval

    def describe(self) -> str:
        text = f"every {_spell(self.interval)}"
        if self.anchor is not None:
            text += f" from {self.anchor:%Y-%m-%d %H:%M:%S} UTC"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"type": "every", "interval": seconds_of(self.interval), "anchor": iso(self.anchor)}

    def normalized(self) -> dict[str, Any]:
        return {"type": "every", "interval_us": self.interval // timedelta(microseconds=1),
                "anchor": self._origin.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Every:
        return cls(interval=data["interval"], anchor=from_iso(data.get("anchor"), "anchor"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Every:
        return cls.from_dict(load_object(data, "Every"))


_UNITS = (("hour", 3600), ("minute", 60), ("second", 1))


def _spell(interval: timedelta) -> str:
    """``timedelta(minutes=15)`` -> "15 minutes", in the largest unit that divides it."""
    seconds = interval.total_seconds()
    for unit, size in _UNITS:
        if seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"
