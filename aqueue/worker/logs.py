"""Bounding what is logged from job data: a 1 MB function name must not make a 3 MB line."""

from __future__ import annotations

MAX_LOGGED = 200


def short(value: object, limit: int = MAX_LOGGED) -> str:
    """``value`` as text, cut to ``limit`` characters with an ellipsis."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
