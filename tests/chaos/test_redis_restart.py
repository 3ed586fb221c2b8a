"""Redis restarted under running workers and a producer: everyone carries on, nothing is
lost, and nothing runs twice (no worker is disrupted, and leases outlast the outages)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import pytest
import redis

from aqueue import AsyncQueue, ConnectionFailed, JobExistsError
from aqueue.job import Job
from tests.chaos.harness import Chaos, prepare_work

pytestmark = pytest.mark.anyio

LEASE = 6.0  # longer than an outage plus a heartbeat interval, so no lease expires


class Producer:
    """Enqueues prepared jobs one at a time; on ``ConnectionFailed`` it waits for Redis
    and, since the enqueue may have happened before the connection broke, enqueues
    again only if the job is not there (explicit job ids make that check possible)."""

    def __init__(self, queue: AsyncQueue, jobs: list[Job[object]]) -> None:
        self.queue = queue
        self.jobs = jobs
        self.enqueued = 0
        self.connection_failures = 0
        self.first_failure: str | None = None
        self.longest_enqueue = 0.0  # an enqueue rides out a short outage by sending again

    async def run(self, pause: float) -> None:
        for job in self.jobs:
            while True:
                started = time.monotonic()
                try:
                    await self.queue.enqueue_many([job])
                    self.longest_enqueue = max(self.longest_enqueue,
                                               time.monotonic() - started)
                    break
                except JobExistsError:
                    break  # an earlier try got through before its reply was lost
                except ConnectionFailed as exc:
                    self.connection_failures += 1
                    self.first_failure = self.first_failure or str(exc)
                    if await self._exists(job.id):
                        break
            self.enqueued += 1
            await anyio.sleep(pause)

    async def _exists(self, job_id: str) -> bool:
        deadline = time.monotonic() + 30
        while True:
            await anyio.sleep(0.05)
            try:
                return bool(await self.queue.store.call("EXISTS", self.queue.keys.job(job_id),
                                                        key=self.queue.keys.queued))
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise


@pytest.mark.timeout(120)
async def test_redis_restarts_under_workers_and_producer(tmp_path: Path) -> None:
    """Two workers and a producer run while Redis (AOF, fsync always) is stopped for a
    second and started again, then SIGKILLed and started again."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    n_jobs = 1500
    with Chaos(tmp_path, "--appendonly", "yes", "--appendfsync", "always") as chaos:
        with chaos.client() as r:
            config = r.config_get("append*")
            assert config.get("appendonly") == "yes", f"AOF is not on: {config}"
            assert config.get("appendfsync") == "always", f"fsync is not always: {config}"
            r.set("chaos:sentinel", "survives restarts")
        workers = [chaos.spawn(concurrency=10, lease=LEASE) for _ in range(2)]
        for worker in workers:
            await chaos.wait_ready(worker)
        async with chaos.queue() as queue:
            prepared, expected = prepare_work(queue, n_jobs, rng, min_ms=10, max_ms=100)
            producer = Producer(queue, prepared)
            outages: list[str] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.run, 0.004)
                await anyio.sleep(1.5)

                # SIGTERM (AOF flushed), then SIGKILL (a crash), each followed by a restart
                for label, take_down, down_for, then_run in (
                    ("stop/start", chaos.server.stop, 1.0, 2.0),
                    ("SIGKILL/start", chaos.server.kill, 0.5, 0.0),
                ):
                    at = time.monotonic()
                    await anyio.to_thread.run_sync(take_down)
                    await anyio.sleep(down_for)
                    await anyio.to_thread.run_sync(chaos.server.start)
                    outages.append(f"{label} {time.monotonic() - at:.1f} s "
                                   f"at {producer.enqueued} enqueued")
                    with chaos.client() as r:
                        assert r.get("chaos:sentinel") == b"survives restarts", "AOF not reloaded"
                    await anyio.sleep(then_run)
            note = (f"outages: {'; '.join(outages)}; producer saw {producer.connection_failures} "
                    f"ConnectionFailed, its longest enqueue took {producer.longest_enqueue:.2f} s;"
                    f" seed {seed}")
            # A claim whose reply was lost waits for its lease to expire: allow for that.
            await chaos.settle(lambda: chaos.finished_count() >= n_jobs, LEASE + 25)
        verdict = chaos.verify(expected)
        chaos.assert_verdict(verdict, note)
        assert producer.connection_failures > 0 or producer.longest_enqueue > 0.3, (
            "the producer never met an outage")
        for worker in workers:
            assert worker.alive(), f"worker {worker.name} died:\n{worker.tail(40)}"
            assert "retrying in" in worker.log(), f"{worker.name} logged no outage"
