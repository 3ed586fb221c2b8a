"""What job control adds to a job's record: meta, progress, the callback error, and the
history of its attempts, read from its hash."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """A running job's last reported progress: ``value`` out of ``total`` (if given),
    with an optional ``message``."""

    value: float
    total: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """``value / total``, or None without a total."""
        return self.value / self.total if self.total else None

    def to_json(self) -> str:
        data: dict[str, Any] = {"value": self.value}
        if self.total is not None:
            data["total"] = self.total
        if self.message is not None:
            data["message"] = self.message
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Progress | None:
        try:
            data = json.loads(raw)
            return cls(float(data["value"]), None if data.get("total") is None
                       else float(data["total"]), data.get("message"))
        except (ValueError, KeyError, TypeError):
            return None

    def __str__(self) -> str:
        shown = f"{self.value:g}" + (f"/{self.total:g}" if self.total is not None else "")
        if self.fraction is not None:
            shown += f" ({self.fraction:.0%})"
        return shown + (f" {self.message}" if self.message else "")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a job: the worker, when it started and ended, and how it ended
    (``finished``, ``failed``, ``retry``, ``snooze``, ``canceled``, ``requeue``: handed back
    by a stopping worker, ``lost``: its worker died or stalled, ``running``: not yet)."""

    worker: str | None
    started_at: float | None
    ended_at: float | None
    outcome: str
    exc_type: str | None = None
    exc_message: str | None = None


def worker_of(token: str | None) -> str | None:
    """The worker name in a claim token (``<worker>.<nonce>.<claim>:<n>``)."""
    return token.rsplit(".", 2)[0] if token else None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def control_fields(data: Mapping[bytes, bytes], status: str, token: str | None
                   ) -> dict[str, Any]:
    """The record fields of job control, leniently (unreadable fields are left empty)."""
    meta: dict[str, Any] = {}
    raw_meta = data.get(b"meta")
    if raw_meta:
        try:
            loaded = json.loads(raw_meta)
            meta = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            pass
    raw_progress = data.get(b"progress")
    error = data.get(b"callback_error")
    return {"meta": meta,
            "progress": Progress.from_json(raw_progress) if raw_progress else None,
            "callback_error": error.decode("utf-8", "replace") if error else None,
            "attempt_history": attempts(data, status, token)}


def attempts(data: Mapping[bytes, bytes], status: str, token: str | None) -> list[Attempt]:
    """The logged attempts (all but a finished or running one), then the current attempt
    if it is running or finished (read from the job's own fields)."""
    history: list[Attempt] = []
    raw = data.get(b"attempt_log")
    if raw:
        try:
            for entry in json.loads(raw):
                history.append(Attempt(worker_of(entry.get("w")), _number(entry.get("s")),
                                       _number(entry.get("e")), str(entry.get("o", "?")),
                                       entry.get("t"), entry.get("m")))
        except (ValueError, TypeError, AttributeError):
            pass
    started = _number(data.get(b"started_at", b"").decode() or None)
    if status in ("started", "finished") and started is not None and not any(
            a.started_at == started for a in history):
        ended = _number(data.get(b"ended_at", b"").decode() or None)
        history.append(Attempt(worker_of(token), started,
                               ended if status == "finished" else None,
                               "running" if status == "started" else "finished"))
    return history
