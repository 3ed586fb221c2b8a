"""A queue's limits: rates and concurrency caps, for the whole queue and per limit key."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]+)?\s*$")
MAX_PERIOD = 366 * 86400.0


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` job starts per ``per`` seconds, counted in fixed windows of
    Redis's clock (``Rate(10, per=1)``, or ``Rate.parse("10/s")``, ``"600/m"``, ``"5/2s"``)."""

    limit: int
    per: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"a rate limit needs a whole number of jobs >= 1, got "
                             f"{self.limit!r}")
        if isinstance(self.per, bool) or not isinstance(self.per, int | float) \
                or not 0.001 <= self.per <= MAX_PERIOD or math.isnan(self.per):
            raise ValueError(f"a rate's period must be from 0.001 to {MAX_PERIOD:g} seconds, "
                             f"got {self.per!r}")

    @classmethod
    def parse(cls, text: str | Rate) -> Rate:
        """``"10/s"``, ``"600/m"``, ``"5/2s"``, ``"1000/h"``, ``"20/1.5s"``."""
        if isinstance(text, Rate):
            return text
        match = _RATE.match(text.lower()) if isinstance(text, str) else None
        unit = match.group(3) if match else None
        if match is None or (unit and unit.rstrip("s") not in _UNITS and unit not in _UNITS):
            raise ValueError(f"cannot read the rate {text!r}: write N/UNIT, e.g. '10/s', "
                             "'600/m', '5/2s' or '1000/h'")
        factor = _UNITS.get(unit or "s") or _UNITS[(unit or "s").rstrip("s")]
        count = float(match.group(2)) if match.group(2) else 1.0
        return cls(int(match.group(1)), count * factor)

    def __str__(self) -> str:
        return f"{self.limit}/{self.per:g}s"


@dataclass(frozen=True, slots=True)
class Limits:
    """What holds a queue's jobs back: a pause, rates, concurrency caps."""

    paused: bool = False
    rate: Rate | None = None
    concurrency: int | None = None
    key_rate: Rate | None = None
    key_concurrency: int | None = None

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Limits:
        def rate(count: str, period: str) -> Rate | None:
            return Rate(int(fields[count]), float(fields[period])) if count in fields else None

        def cap(name: str) -> int | None:
            return int(fields[name]) if name in fields else None

        return cls(paused="paused" in fields, rate=rate("rate", "period"),
                   concurrency=cap("conc"), key_rate=rate("krate", "kperiod"),
                   key_concurrency=cap("kconc"))

    def describe(self) -> str:
        parts = ["paused"] if self.paused else []
        if self.rate:
            parts.append(f"rate {self.rate}")
        if self.concurrency:
            parts.append(f"concurrency {self.concurrency}")
        if self.key_rate:
            parts.append(f"per-key rate {self.key_rate}")
        if self.key_concurrency:
            parts.append(f"per-key concurrency {self.key_concurrency}")
        return ", ".join(parts) or "no limits"


def limit_fields(rate: Rate | str | None, concurrency: int | None, key_rate: Rate | str | None,
                 key_concurrency: int | None) -> list[Any]:
    """The field/value pairs ``scripts/flow_control.lua`` sets ("" removes a field)."""
    pairs: list[Any] = []
    for count, period, value in (("rate", "period", rate), ("krate", "kperiod", key_rate)):
        parsed = Rate.parse(value) if value is not None else None
        pairs += [count, parsed.limit if parsed else "", period, repr(parsed.per) if parsed else ""]
    for name, cap in (("conc", concurrency), ("kconc", key_concurrency)):
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"a concurrency cap is a whole number of jobs >= 1, got {cap!r}")
        pairs += [name, cap if cap is not None else ""]
    return pairs
