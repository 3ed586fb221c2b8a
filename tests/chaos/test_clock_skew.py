"""Worker processes whose clock is 60 s off (libfaketime, preloaded into that worker
only): a clock ahead must not reap other workers' live jobs nor promote delayed jobs
early; a clock behind must not cost a worker its jobs nor its place in the registry."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos import jobs
from tests.chaos.harness import REPO_ROOT, Chaos

pytestmark = pytest.mark.anyio

LEASE = 3.0
SKEW = 60.0
LIBFAKETIME = "/usr/lib/*/faketime/libfaketime.so.1"


def skewed_clock(seconds: float) -> dict[str, str]:
    """Environment that shifts a process's clock by ``seconds`` (libfaketime); checked
    here by asking a Python process under it for ``time.time()``."""
    found = sorted(glob.glob(LIBFAKETIME))
    if not found:
        raise RuntimeError(
            f"libfaketime not found ({LIBFAKETIME}): install Debian's faketime package "
            "(`make test` as root does it, or: sudo apt-get install faketime)")
    env = {"LD_PRELOAD": found[0], "FAKETIME": f"{seconds:+g}s"}
    shown = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"], capture_output=True,
        text=True, timeout=30, env={**os.environ, **env}, check=True)
    shift = float(shown.stdout) - time.time()
    assert abs(shift - seconds) < 5, f"libfaketime shifted time.time() by {shift:.1f} s"
    return env


@pytest.mark.timeout(60)
async def test_a_worker_60s_ahead_does_not_reap_live_jobs_of_other_workers(
    tmp_path: Path,
) -> None:
    """Worker A runs a 5 s job (lease 3 s, renewed); worker B, 60 s ahead, starts (and
    reaps) meanwhile. The job runs once, on A."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            a = await chaos.spawn_ready(lease=LEASE, name="a")
            await queue.enqueue(jobs.work, "long", 5000, 1, job_id="long")
            await chaos.wait_started("long", a, 10)
            await chaos.spawn_ready(lease=LEASE, name="ahead", env=skewed_clock(SKEW))
            await chaos.settle(lambda: chaos.finished_count() >= 1, 15)
        verdict = chaos.verify({"long": jobs.expected_value(1)})
        chaos.assert_verdict(verdict, f"started by {[r.pid for r in chaos.runs(['long'])['long']]}"
                                      f", a is pid {a.pid}")
        assert verdict.duplicates == 0


@pytest.mark.timeout(60)
async def test_a_worker_60s_ahead_does_not_promote_a_job_due_in_40s(tmp_path: Path) -> None:
    """A job due in 40 s, and a worker 60 s ahead: after the worker has started (its
    scheduler promotes at once) and run for a few seconds, the job is still scheduled."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            await queue.enqueue_in(40, jobs.work, "later", 10, 2, job_id="later")
            await chaos.spawn_ready(lease=LEASE, name="ahead", env=skewed_clock(SKEW))
            await anyio.sleep(3)
        assert chaos.runs(["later"])["later"] == [], "the job due in 40 s ran already"
        assert chaos.job_hash("later")["status"] == "scheduled", chaos.job_hash("later")


@pytest.mark.timeout(60)
async def test_a_worker_60s_behind_keeps_its_own_jobs(tmp_path: Path) -> None:
    """Worker B, 60 s behind, runs a 5 s job (lease 3 s, renewed); worker A, on time,
    starts (and reaps) meanwhile. The job runs once, on B."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            behind = await chaos.spawn_ready(lease=LEASE, name="behind",
                                             env=skewed_clock(-SKEW))
            await queue.enqueue(jobs.work, "long", 5000, 1, job_id="long")
            await chaos.wait_started("long", behind, 10)
            await chaos.spawn_ready(lease=LEASE, name="a")
            await chaos.settle(lambda: chaos.finished_count() >= 1, 15)
        verdict = chaos.verify({"long": jobs.expected_value(1)})
        chaos.assert_verdict(verdict, f"started by {[r.pid for r in chaos.runs(['long'])['long']]}"
                                      f", behind is pid {behind.pid}")
        assert verdict.duplicates == 0


@pytest.mark.timeout(60)
async def test_a_worker_60s_behind_is_listed_by_aqueue_info(tmp_path: Path) -> None:
    """Worker B, 60 s behind, and worker A, on time, both live: after a few heartbeats
    (A's prunes the registry), ``aqueue info`` lists both."""
    with Chaos(tmp_path) as chaos:
        behind = await chaos.spawn_ready(lease=LEASE, name="behind", env=skewed_clock(-SKEW))
        a = await chaos.spawn_ready(lease=LEASE, name="a")
        await anyio.sleep(LEASE)  # three heartbeats each
        shown = await anyio.to_thread.run_sync(lambda: subprocess.run(
            [sys.executable, "-m", "aqueue", "info", "--url", chaos.server.url],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30))
        assert shown.returncode == 0, shown.stderr
        assert "2 live worker(s)" in shown.stdout, shown.stdout
        for worker in (behind, a):
            assert f"  {worker.name}  host=" in shown.stdout, shown.stdout
            assert f"pid={worker.pid} " in shown.stdout, shown.stdout
