"""The job of the cancellation-latency scenario (benchmarks/scenarios_control.py)."""

from __future__ import annotations

import asyncio
import os
import time

import redis

_client: redis.Redis | None = None


async def wait_for_cancel(label: str) -> None:
    """Says it runs, then runs until cancelled; then pushes when it saw its CancelledError
    (CLOCK_MONOTONIC: the same clock for every process of the host)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    _client.rpush("bench:running", label)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _client.rpush("bench:cancelled", f"{label} {time.monotonic()}")
        raise
