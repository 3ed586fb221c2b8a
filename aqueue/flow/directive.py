"""The flow options of one job (priority, at_front, expires, unique, debounce, limit_key),
checked and turned into the directive that ``scripts/_flow.lua`` reads.

A job that uses none of them has no directive, and the scripts treat it exactly as
before these features existed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aqueue.store.keys import check_name

MAX_PRIORITY = 1000
MAX_LOCK_TTL = 10 * 365 * 24 * 3600
DEFAULT_UNIQUE_TTL = 3600
MAX_WAIT = 365 * 24 * 3600.0
LockLifetime = Literal["finished", "started", "window"]
LIFETIMES = ("finished", "started", "window")


@dataclass(frozen=True, slots=True)
class Unique:
    """At most one pending job per key: enqueueing another returns the pending one.

    ``key``: what makes jobs the same (default: the function and its arguments; with an
    explicit ``job_id`` and no key, the id). ``until``: when the lock is let go —
    ``"finished"`` (the job ended: finished, failed, canceled or expired), ``"started"``
    (a worker started it), or ``"window"`` (only when ``ttl`` runs out: one job per
    window). ``ttl``: seconds the lock lasts at most, whatever happens to the job.
    """

    key: str | None = None
    until: LockLifetime = "finished"
    ttl: int = DEFAULT_UNIQUE_TTL

    def __post_init__(self) -> None:
        if self.key is not None:
            check_name("unique key", self.key)
        if self.until not in LIFETIMES:
            raise ValueError(f"Unique(until=...) takes one of {', '.join(LIFETIMES)}, got "
                             f"{self.until!r}")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int) \
                or not 1 <= self.ttl <= MAX_LOCK_TTL:
            raise ValueError(f"Unique(ttl=...) takes whole seconds from 1 to {MAX_LOCK_TTL}, "
                             f"got {self.ttl!r}")


@dataclass(frozen=True, slots=True)
class Debounce:
    """Collapse a burst of enqueues into one run, ``wait`` seconds after the last of them.

    Enqueueing again while the job is still waiting restarts the quiet period and keeps
    the ``"last"`` (default) or the ``"first"`` arguments; ``max_wait`` bounds how long a
    burst can hold the run back. ``key`` groups the enqueues (default: the function).
    """

    wait: float
    key: str | None = None
    keep: Literal["first", "last"] = "last"
    max_wait: float | None = None

    def __post_init__(self) -> None:
        _seconds("Debounce(wait=...)", self.wait)
        if self.max_wait is not None:
            _seconds("Debounce(max_wait=...)", self.max_wait)
            if self.max_wait < self.wait:
                raise ValueError(f"Debounce(max_wait={self.max_wait!r}) is shorter than "
                                 f"wait={self.wait!r}")
        if self.key is not None:
            check_name("debounce key", self.key)
        if self.keep not in ("first", "last"):
            raise ValueError(f"Debounce(keep=...) takes 'first' or 'last', got {self.keep!r}")


@dataclass(frozen=True, slots=True)
class FlowDirective:
    """The checked flow options of one job."""

    priority: int = 0
    at_front: bool = False
    expires_in: float | None = None  # seconds after the job is due
    expires_at: float | None = None  # a Unix time
    unique: Unique | None = None
    unique_by_id: bool = False
    debounce: Debounce | None = None
    limit_key: str | None = None

    def wire(self, func: str, args: bytes, kwargs: bytes) -> str:
        """The JSON directive (see ``scripts/_flow.lua``); lock keys need the job's call."""
        d: dict[str, Any] = {}
        if self.priority:
            d["p"] = self.priority
        if self.at_front:
            d["f"] = 1
        if self.limit_key is not None:
            d["k"] = self.limit_key
        if self.expires_in is not None:
            d["xi"] = self.expires_in
        if self.expires_at is not None:
            d["xa"] = self.expires_at
        if self.unique_by_id:
            d["ui"] = 1
        if self.unique is not None and (self.unique.key is not None or not self.unique_by_id):
            d["u"] = self.unique.key or "call." + call_digest(func, args, kwargs)
            d["um"] = self.unique.until
            d["ut"] = self.unique.ttl
        if self.debounce is not None:
            b = self.debounce
            d.update(d=b.key or "func." + func, dw=b.wait, dk=b.keep)
            if b.max_wait is not None:
                d["dm"] = b.max_wait
        return json.dumps(d, separators=(",", ":"))


def call_digest(func: str, args: bytes, kwargs: bytes) -> str:
    """What makes two calls the same for ``unique``: the function and its encoded arguments."""
    return hashlib.sha256(b"\0".join([func.encode(), args, kwargs])).hexdigest()[:32]


def resolve_flow(options: Any, job_id: str | None) -> FlowDirective | None:
    """Check the flow options of ``options``; None when the job uses none of them."""
    if not any(name in options for name in FLOW_OPTIONS):
        return None
    priority = options.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) \
            or not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority takes an int from -{MAX_PRIORITY} to {MAX_PRIORITY} "
                         f"(higher runs first, default 0), got {priority!r}")
    at_front = options.get("at_front", False)
    if not isinstance(at_front, bool):
        raise TypeError(f"at_front takes True or False, got {at_front!r}")
    expires_in, expires_at = _expires(options.get("expires"))
    unique = options.get("unique")
    if unique is True:
        unique = Unique()
    elif unique is False:
        unique = None
    if unique is not None and not isinstance(unique, Unique):
        raise TypeError(f"unique takes True or a Unique(key=..., until=..., ttl=...), got "
                        f"{unique!r}")
    debounce = options.get("debounce")
    if debounce is not None and not isinstance(debounce, Debounce):
        raise TypeError(f"debounce takes a Debounce(wait=...), got {debounce!r}")
    if debounce is not None and unique is not None:
        raise ValueError("use unique or debounce, not both: a debounced job is already unique "
                         "while it waits")
    limit_key = options.get("limit_key")
    if limit_key is not None:
        check_name("limit_key", limit_key)
    directive = FlowDirective(priority, at_front, expires_in, expires_at, unique,
                              unique is not None and job_id is not None, debounce, limit_key)
    return None if directive == FlowDirective() else directive


FLOW_OPTIONS = ("priority", "at_front", "expires", "unique", "debounce", "limit_key")


def _expires(value: Any) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"expires takes an aware datetime (with a timezone), got naive "
                             f"{value!r}")
        return None, value.timestamp()
    if isinstance(value, timedelta):
        value = value.total_seconds()
    _seconds("expires", value)
    return float(value), None


def _seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} takes seconds (a number or timedelta), got {value!r}")
    if not 0 < value <= MAX_WAIT or math.isnan(value):
        raise ValueError(f"{name} must be more than 0 and at most {MAX_WAIT:g} seconds, got "
                         f"{value!r}")
