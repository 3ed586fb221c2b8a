"""Redis restarted without persistence under a running job: the job is gone from Redis,
and the worker's log says so, rather than blaming a stall or a lost lease."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.chaos import jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

LEASE = 10.0  # no lease runs out in this test
JOB = "vanished"


@pytest.mark.timeout(60)
async def test_a_job_lost_in_a_redis_restart_is_logged_as_gone(tmp_path: Path) -> None:
    """A 3 s job is running when Redis (no AOF, no RDB) restarts; when the job ends, the
    worker logs that the job no longer exists in Redis and that its outcome was dropped."""
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            worker = await chaos.spawn_ready(lease=LEASE)
            await queue.enqueue(jobs.work, JOB, 3000, 1, job_id=JOB)
            await chaos.wait_started(JOB, worker, 10)
        await anyio.to_thread.run_sync(chaos.server.restart)
        with chaos.client() as r:
            assert not r.exists(chaos.keys.job(JOB)), "the restart kept the data"

        def about_the_job() -> list[str]:
            return [line for line in worker.log().splitlines() if f"job {JOB}" in line]

        def outcome_reported() -> bool:
            return any("no longer exists" in line or "outcome" in line
                       for line in about_the_job())

        # The job ends 3 s after its start; the worker reconnects within its backoff (5 s).
        await chaos.settle(outcome_reported, 15)
        lines = about_the_job()
        assert any(f"job {JOB} no longer exists in Redis" in line for line in lines), (
            f"no line says job {JOB} no longer exists in Redis:\n" + "\n".join(lines))
        misleading = [line for line in lines
                      if "stalled or cut off" in line or "handed back to the queue" in line]
        assert misleading == [], "lines blaming a stall or a handback:\n" + "\n".join(misleading)
        with chaos.client() as r:
            assert not r.exists(chaos.keys.job(JOB)), "the outcome recreated the job"
        assert worker.alive()
