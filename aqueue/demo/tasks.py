"""The functions the demo enqueues (``aqueue demo``): I/O-bound coroutines and a
plain ``def`` that runs in the worker's thread pool."""

from __future__ import annotations

import asyncio
import hashlib


async def fetch_page(page: int, latency_ms: float) -> int:
    """Pretend to call a slow HTTP API."""
    await asyncio.sleep(latency_ms / 1000)
    return page


def checksum(text: str) -> str:
    """A little blocking CPU work, run in a thread."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
