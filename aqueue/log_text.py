"""Job data in log lines, bounded: a job's id, function name or error message can be
megabytes long, and one log line must stay readable (and cheap to ship)."""

from __future__ import annotations

NAME_LIMIT = 200  # job ids and function names
MESSAGE_LIMIT = 500  # error messages
ELLIPSIS = "\u2026"


def clip(value: object, limit: int = NAME_LIMIT) -> str:
    """``value`` as text, cut to ``limit`` characters (the last one an ellipsis)."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def clip_message(value: object) -> str:
    return clip(value, MESSAGE_LIMIT)
