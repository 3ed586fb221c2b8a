"""Checks and conversions shared by the schedules: aware instants, intervals, JSON, hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

ONE_MICROSECOND = timedelta(microseconds=1)


def aware_utc(value: object, name: str) -> datetime:
    """``value`` as an aware UTC datetime; a naive one (or a non-datetime) is a TypeError."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(
            f"{name} is a naive datetime ({value.isoformat()}); pass an aware datetime, "
            "e.g. datetime.now(timezone.utc) or datetime(..., tzinfo=ZoneInfo('Europe/Berlin'))"
        )
    return value.astimezone(UTC)


def optional_aware_utc(value: object, name: str) -> datetime | None:
    return None if value is None else aware_utc(value, name)


def as_timedelta(value: object, name: str) -> timedelta:
    """A ``timedelta`` or a number of seconds, as a ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a timedelta or seconds, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return timedelta(seconds=value)


def seconds_of(delta: timedelta) -> int | float:
    """Seconds for JSON: an int when whole, so that 900 is stored as ``900``, not ``900.0``."""
    seconds = delta.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def from_iso(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string or null, got {value!r}")
    return aware_utc(datetime.fromisoformat(value), name)


def canonical_json(data: dict[str, Any]) -> str:
    """The one spelling of ``data``: sorted keys, no spaces (what fingerprints hash)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_object(data: str | bytes | dict[str, Any], what: str) -> dict[str, Any]:
    """``data`` as a dict: JSON text is parsed, a dict is taken as it is."""
    raw = json.loads(data) if isinstance(data, str | bytes) else data
    if not isinstance(raw, dict):
        raise ValueError(f"a stored {what} must be a JSON object, got {raw!r}")
    return raw
