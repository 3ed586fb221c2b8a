"""A Redis whose ``maxmemory-policy`` may evict keys would silently delete queued jobs:
a worker at start, and a producer on first use, say so loudly (a WARNING on the
``aqueue`` logger) and name the policy to set, ``noeviction``."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import anyio
import pytest

from aqueue import AsyncQueue
from tests.chaos import jobs
from tests.chaos.harness import Chaos
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio

# The worker logs "<date> <time> LEVEL logger.name: message" (aqueue worker's format).
WARNING_LINE = re.compile(r"^\S+ \S+ WARNING aqueue(?:\.\w+)*: (.*)$")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
async def test_a_worker_warns_at_start_when_redis_may_evict_keys(
    tmp_path: Path, policy: str,
) -> None:
    with Chaos(tmp_path, "--maxmemory", "100mb", "--maxmemory-policy", policy) as chaos:
        worker = await chaos.spawn_ready()
        await anyio.sleep(1.0)  # a warning logged right after the "started" line counts
        warnings = [m.group(1) for line in worker.log().splitlines()
                    if (m := WARNING_LINE.match(line))]
    assert any(policy in w and "noeviction" in w for w in warnings), (
        f"no WARNING naming {policy} and noeviction; the worker logged:\n{worker.tail(10)}")


@pytest.mark.timeout(60)
async def test_a_producer_warns_once_on_first_use_when_redis_may_evict_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three enqueues on one queue: one warning."""
    server = RedisServer("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru")
    caplog.set_level(logging.WARNING, logger="aqueue")
    try:
        async with AsyncQueue("evictable", url=server.url) as queue:
            for i in range(3):
                await queue.enqueue(jobs.work, f"job-{i}", 1, i)
    finally:
        server.close()
    warnings = [record.getMessage() for record in caplog.records
                if record.levelno == logging.WARNING
                and (record.name == "aqueue" or record.name.startswith("aqueue."))]
    naming = [w for w in warnings if "allkeys-lru" in w and "noeviction" in w]
    assert len(naming) == 1, f"expected one warning naming allkeys-lru and noeviction: {warnings}"
