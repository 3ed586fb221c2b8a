"""Searching a queue's jobs by id, function, status and argument values.

Without an index a search walks the queue's registries, a bounded slice per call
(``search_scan.lua``). With the opt-in per-queue index (``enable_search_index``), which
the enqueue script keeps up to date, a search walks the smallest matching set of the
index instead (``search_index.lua``): fast however many jobs the queue holds. Both read
a job's terms the same way (``scripts/_index.lua``), so they find the same jobs.

A query is text: ``func:send_email user=42 status:failed "a b"`` (function, argument by
name or position, status, any argument's value); a lone 32-digit hex word is a job id.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aqueue.store.keys import QueueKeys

STATES = ("queued", "scheduled", "deferred", "started", "failed", "finished", "canceled")
VALUE_MAX = 100  # bytes of a string value the index keeps (INDEX_VALUE_MAX in _index.lua)
DEFAULT_BUDGET = 2000  # jobs a search looks at per call without the index (a few ms)
INDEX_BUDGET = 20000  # candidates per call with the index
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")
_PREFIXES = {"id": "id", "func": "func", "fn": "func", "function": "func", "status": "status",
             "state": "status"}


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for; every part given must match."""

    id: str | None = None
    func: str | None = None
    status: str | None = None
    args: tuple[tuple[str, str], ...] = ()  # (argument name or position, value)
    values: tuple[str, ...] = ()  # values of any top-level argument

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATES:
            raise ValueError(f"unknown status {self.status!r}: choose one of "
                             f"{', '.join(STATES)}")
        for name, _ in self.args:
            if not _NAME.match(name):
                raise ValueError(f"invalid argument name {name!r}: use a keyword argument's "
                                 "name or a position (0, 1...)")

    @classmethod
    def parse(cls, text: str, *, status: str | None = None) -> SearchQuery:
        """``func:NAME``, ``status:STATE``, ``id:ID``, ``NAME=VALUE``, a bare ``VALUE``;
        quote values with spaces. ``status`` applies unless the text names one."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ValueError(f"cannot read the search {text!r}: {exc}") from None
        found: dict[str, str] = {}
        args: list[tuple[str, str]] = []
        values: list[str] = []
        for word in words:
            prefix, colon, rest = word.partition(":")
            name, equals, value = word.partition("=")
            if colon and prefix.lower() in _PREFIXES and (not equals or len(prefix) < len(name)):
                if not rest:
                    raise ValueError(f"{prefix}: needs a value, e.g. {prefix}:something")
                found[_PREFIXES[prefix.lower()]] = rest
            elif equals and name:
                args.append((name, value))
            else:
                values.append(word)
        if len(values) == 1 and not args and not found and _JOB_ID.match(values[0]):
            return cls(id=values[0], status=status)
        return cls(id=found.get("id"), func=found.get("func"),
                   status=found.get("status", status), args=tuple(args), values=tuple(values))

    @property
    def empty(self) -> bool:
        return not (self.id or self.func or self.status or self.args or self.values)

    def terms(self) -> list[bytes]:
        """The index terms every match has (``_index.lua``)."""
        out = [b"f:" + self.func.encode()] if self.func else []
        out += [b"a:" + name.encode() + b"=" + _value(value) for name, value in self.args]
        out += [b"v:" + _value(value) for value in self.values]
        return out

    def __str__(self) -> str:
        parts = [f"id:{self.id}"] if self.id else []
        if self.func:
            parts.append(f"func:{_quote(self.func)}")
        if self.status:
            parts.append(f"status:{self.status}")
        parts += [f"{name}={_quote(value)}" for name, value in self.args]
        parts += [_quote(value) for value in self.values]
        return " ".join(parts)


def _value(value: str) -> bytes:
    return value.encode().replace(b"\0", b"")[:VALUE_MAX]


def _quote(value: str) -> str:
    return shlex.quote(value) if not value or re.search(r"[\s'\"\\]", value) else value


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of matches: ``cursor`` continues the search (None: nothing more)."""

    records: list[dict[str, Any]]
    cursor: str | None
    looked_at: int  # jobs (or index entries) looked at for this page
    size: int  # jobs in the registries walked, or entries in the index set that drove it
    indexed: bool  # whether the index answered


J = TypeVar("J")


@dataclass(frozen=True, slots=True)
class SearchResult(Generic[J]):
    """A page of matching jobs; ``cursor`` (None at the end) gets the next page."""

    jobs: list[J]
    cursor: str | None
    looked_at: int  # jobs (or index entries) looked at for this page
    size: int  # jobs in the registries walked, or entries of the index set that drove it
    indexed: bool  # whether the search index answered

    @classmethod
    def of(cls, page: SearchPage, jobs: list[J]) -> SearchResult[J]:
        return cls(jobs, page.cursor, page.looked_at, page.size, page.indexed)


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """A queue's search index: on or off, what it indexes, its size."""

    enabled: bool
    fields: tuple[str, ...] | None  # None: every top-level argument
    jobs: int  # jobs in the index (including gone ones not pruned yet)
    bytes: int  # estimated memory of the index
    terms_per_job: float = 0.0


@dataclass(slots=True)
class SearchCursor:
    """The text form of a search's position: which engine, and where it is."""

    indexed: bool
    position: str = ""

    @classmethod
    def parse(cls, cursor: str | None) -> SearchCursor | None:
        if not cursor:
            return None
        kind, _, position = cursor.partition(":")
        if kind not in ("i", "s"):
            raise ValueError(f"invalid search cursor {cursor!r}")
        return cls(kind == "i", position)

    def __str__(self) -> str:
        return f"{'i' if self.indexed else 's'}:{self.position}"


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """Keys of a queue's search index, beside its other keys (``_index.lua``)."""

    config: str
    terms: str
    prefix: str = field(repr=False)

    @classmethod
    def of(cls, keys: QueueKeys) -> IndexKeys:
        prefix = f"{keys.base}ix:"
        return cls(config=f"{prefix}config", terms=f"{prefix}terms", prefix=prefix)
