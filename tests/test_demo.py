"""`aqueue demo`, the README's first command, on a small number of jobs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aqueue.demo import redis_for_demo
from aqueue.store.store import Store

pytestmark = pytest.mark.anyio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_runs_every_job_and_reports_throughput(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aqueue", "demo", "--jobs", "2000", "--url", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2,000 finished, 0 failed" in done.stderr
    assert "jobs/s with one worker process at concurrency 200" in done.stderr


async def test_demo_starts_a_private_redis_when_none_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AQUEUE_URL", "redis://127.0.0.1:1/0")
    async with redis_for_demo(None) as url:
        assert url != "redis://127.0.0.1:1/0"
        store = Store.open(url)
        info = await store.call("INFO", "server")
        await store.close()
        assert f"tcp_port:{url.split(':')[2].split('/')[0]}".encode() in info
