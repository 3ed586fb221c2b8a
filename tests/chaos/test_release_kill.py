"""Workers SIGKILLed between delivering a parent's end to its child (another cluster
node) and removing the message from the outbox: every child still runs, exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from aqueue import AsyncQueue, Dependency
from aqueue.workflow.dependency import OnFailure
from tests.chaos import jobs
from tests.chaos.harness import REPO_ROOT, Chaos, chaos_size
from tests.chaos.release_fault import KILL_ENV, KILLS
from tests.servers.cluster import RedisCluster

pytestmark = pytest.mark.anyio
LEASE = 2.0


def spawn(chaos: Chaos, url: str, queue: str, name: str, kill: float) -> subprocess.Popen[bytes]:
    log = (chaos.log_dir / f"{name}.log").open("wb")
    env = {**os.environ, jobs.LEDGER_ENV: chaos.ledger_server.url, KILL_ENV: str(kill),
           "PYTHONUNBUFFERED": "1"}
    env.pop("AQUEUE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", queue, "--url", url,
         "--import", "tests.chaos.jobs", "--import", "tests.chaos.release_fault",
         "--concurrency", "20", "--lease", str(LEASE), "--name", name],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.timeout(120)
async def test_sigkill_between_release_and_outbox_removal_releases_each_child_once(
        tmp_path: Path, fresh_redis_cluster: RedisCluster) -> None:
    n = chaos_size(60, 600)
    url = fresh_redis_cluster.url()
    parents_q, children_q = fresh_redis_cluster.names_on_distinct_primaries(2, "rk-")
    with Chaos(tmp_path, queue=parents_q) as chaos:
        ledger = chaos.ledger()
        faulty: list[subprocess.Popen[bytes]] = []
        # children run on a worker that is never killed: a second run could only come
        # from a second release
        steady = spawn(chaos, url, children_q, "children", 0.0)
        try:
            async with AsyncQueue(parents_q, url=url) as parents, \
                    AsyncQueue(children_q, url=url) as children:
                for i in range(n):
                    parent = await parents.enqueue(jobs.work, f"p{i}", 5, i)
                    policy: OnFailure = "run" if i % 3 == 0 else "fail"
                    await children.enqueue(jobs.work, f"c{i}", 1, i, job_id=f"c{i}",
                                           depends_on=Dependency(parent, on_failure=policy))
                spawned = 0
                deadline = time.monotonic() + 90
                while (await children.counts()).finished < n:
                    assert time.monotonic() < deadline, (
                        f"children not all run: {await children.counts()}, "
                        f"{ledger.get(KILLS)!r} kills")
                    faulty = [w for w in faulty if w.poll() is None]
                    while len(faulty) < 2:
                        # the first two die at their first delivery, the next few
                        # often, later ones never (so that the run ends)
                        spawned += 1
                        kill = 1.0 if spawned <= 2 else 0.5 if spawned <= 6 else 0.0
                        faulty.append(spawn(chaos, url, parents_q, f"parents{spawned}", kill))
                    await anyio.sleep(0.2)
                counts = await children.counts()
        finally:
            for worker in [steady, *faulty]:
                worker.kill()
                worker.wait(10)
        kills = int(ledger.get(KILLS) or 0)
        assert kills >= 2, f"only {kills} workers were killed mid-delivery"
        runs = {i: ledger.llen(f"{jobs.STARTS}c{i}") for i in range(n)}
        assert {i: r for i, r in runs.items() if r != 1} == {}
        assert (counts.finished, counts.deferred, counts.queued) == (n, 0, 0)
