"""The core behaviour, on one server and on a Redis Cluster whose queues live on three
different primaries (the ``topology`` fixture runs each test on both)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from aqueue import AsyncAdmin, AsyncQueue, JobStatus, Queue, Retry, Worker
from tests import tasks
from tests.topologies import Topology

pytestmark = pytest.mark.anyio
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.asynccontextmanager
async def queues(topology: Topology) -> AsyncIterator[list[AsyncQueue]]:
    opened = [AsyncQueue(name, url=topology.url) for name in topology.names]
    try:
        yield opened
    finally:
        for queue in opened:
            await queue.close()


def worker(topology: Topology, **options: object) -> Worker:
    options.setdefault("imports", ["tests.tasks"])
    options.setdefault("grace", 2)
    return Worker(topology.names, url=topology.url, **options)  # type: ignore[arg-type]


async def test_a_job_on_each_primary_runs_and_returns_its_result(topology: Topology) -> None:
    async with queues(topology) as qs:
        jobs = [await q.enqueue(tasks.add, i, 10) for i, q in enumerate(qs)]
        async with worker(topology, concurrency=5):
            assert [await job.result(timeout=10) for job in jobs] == [10, 11, 12]


def test_the_sync_queue_enqueues_and_waits_for_results(topology: Topology) -> None:
    with contextlib.ExitStack() as stack:
        qs = [stack.enter_context(Queue(name, url=topology.url)) for name in topology.names]
        jobs = [q.enqueue(tasks.multiply, i, 3) for i, q in enumerate(qs)]

        async def work() -> None:
            async with worker(topology, concurrency=5):
                await asyncio.gather(*(asyncio.to_thread(j.result, timeout=10) for j in jobs))

        asyncio.run(work())
        assert [job.result(timeout=1) for job in jobs] == [0, 3, 6]


async def test_delayed_jobs_run_when_due_on_every_primary(topology: Topology) -> None:
    async with queues(topology) as qs:
        jobs = [await q.enqueue_in(0.5, tasks.add, i, i) for i, q in enumerate(qs)]
        assert [await j.get_status() for j in jobs] == [JobStatus.SCHEDULED] * 3
        async with worker(topology, concurrency=5):
            assert [await job.result(timeout=10) for job in jobs] == [0, 2, 4]


async def test_a_failing_job_is_retried_on_its_own_primary(topology: Topology) -> None:
    async with queues(topology) as qs:
        jobs = [await q.enqueue(tasks.fail_times, f"k{i}", 2, retry=Retry(max=2, interval=0.1))
                for i, q in enumerate(qs)]
        async with worker(topology, concurrency=5):
            assert [await job.result(timeout=10) for job in jobs] == ["ok"] * 3
    assert sorted(tasks.calls) == sorted(f"k{i}" for i in range(3) for _ in range(3))


async def test_queues_on_three_primaries_are_served_in_strict_priority_order(
    topology: Topology
) -> None:
    async with queues(topology) as qs:
        for q in reversed(qs):  # lowest priority enqueued first
            for i in range(3):
                await q.enqueue(tasks.record, f"{q.name}-{i}")
        done = worker(topology, concurrency=1, burst=True)
        await asyncio.wait_for(done.run(install_signal_handlers=False), 30)
    assert done.stats.processed == 9
    assert tasks.calls == [f"{name}-{i}" for name in topology.names for i in range(3)]


async def test_burst_mode_ends_once_every_primary_is_drained(topology: Topology) -> None:
    async with queues(topology) as qs:
        for q in qs:
            await q.enqueue_many([q.prepare(tasks.add, i, i) for i in range(20)])
        done = worker(topology, concurrency=10, burst=True)
        started = time.monotonic()
        await asyncio.wait_for(done.run(install_signal_handlers=False), 30)
        assert time.monotonic() - started < 10
        assert [(await q.counts()).finished for q in qs] == [20, 20, 20]


async def test_an_idle_worker_blocks_on_every_primary_instead_of_polling(
    topology: Topology
) -> None:
    async with worker(topology, concurrency=5):
        await asyncio.sleep(0.5)  # registered, the first claims done, blocked on markers
        before = topology.calls("EVALSHA", "BZPOPMIN", "EVAL")
        await asyncio.sleep(3)
        after = topology.calls("EVALSHA", "BZPOPMIN", "EVAL")
    per_node = {port: after[port] - before[port] for port in before}
    # A poller would claim ~100 times in 3 s; blocked, a node sees a heartbeat, a reaper
    # or promoter round and at most one BZPOPMIN per queue it holds.
    assert max(per_node.values()) <= 12, per_node


def start_worker_process(topology: Topology, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", *topology.names, "--url", topology.url,
         "--import", "tests.tasks", *options], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def killed_at_exit(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


async def test_the_job_of_a_sigkilled_worker_is_handed_to_another(topology: Topology) -> None:
    async with queues(topology) as qs:
        job = await qs[2].enqueue(tasks.sleep_then_pid, 1.5)
        with killed_at_exit(start_worker_process(topology, "--lease", "1")) as first:
            while await job.get_status() is not JobStatus.STARTED:
                await asyncio.sleep(0.02)
            first.kill()
            first.wait(10)
        async with worker(topology, lease=1.0):
            assert await job.result(timeout=15) == os.getpid()
        stored = await qs[2].fetch_job(job.id)
        assert stored.deliveries == 2  # the killed run, and the one that finished


def aqueue_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aqueue", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)


async def test_info_requeue_and_empty_work_across_the_primaries(topology: Topology) -> None:
    async with queues(topology) as qs:
        failed = await qs[0].enqueue(tasks.fail, "boom")
        await qs[1].enqueue_many([qs[1].prepare(tasks.add, 1, 1) for _ in range(4)])
        run = worker(topology, burst=True)
        await asyncio.wait_for(run.run(install_signal_handlers=False), 30)
        await qs[2].enqueue_many([qs[2].prepare(tasks.add, 1, 1) for _ in range(3)])

        info = aqueue_cli("info", "--url", topology.url)
        assert info.returncode == 0, info.stderr
        rows = {line.split()[0]: line.split()[1:] for line in info.stdout.splitlines()
                if line.split() and line.split()[0] in topology.names}
        assert rows[topology.names[0]][3] == "1"  # failed
        assert rows[topology.names[1]][4] == "4"  # finished
        assert rows[topology.names[2]][0] == "3"  # queued

        requeued = aqueue_cli("requeue", topology.names[0], "--all", "--url", topology.url)
        assert "requeued 1 job(s)" in requeued.stdout, requeued.stderr
        assert await failed.get_status() is JobStatus.QUEUED
        emptied = aqueue_cli("empty", topology.names[2], "--url", topology.url)
        assert "dropped 3 job(s)" in emptied.stdout, emptied.stderr


async def test_the_admin_finds_every_queue_and_the_live_workers(topology: Topology) -> None:
    async with queues(topology) as qs:
        for q in qs:
            await q.enqueue(tasks.add, 1, 1)
        async with worker(topology, name="scale-w1"), AsyncAdmin(url=topology.url) as admin:
            assert set(topology.names) <= set(await admin.queues())
            assert [w.name for w in await admin.workers()] == ["scale-w1"]
            seen = await admin.workers()
            assert seen[0].queues == topology.names


async def test_ten_thousand_waiters_share_one_subscription_per_primary(
    topology: Topology
) -> None:
    async with queues(topology) as qs:
        jobs = []
        for q in qs:
            jobs += await q.enqueue_many([q.prepare(tasks.add, i, 1) for i in range(3334)])
        waits = [asyncio.ensure_future(job.result(timeout=60)) for job in jobs]
        deadline = time.monotonic() + 10
        while sum(q.listener.connections for q in qs) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [q.listener.connections for q in qs] == [1, 1, 1]  # each on its queue's node
        async with worker(topology, concurrency=200):
            results = await asyncio.gather(*waits)
    assert results == [i + 1 for _ in qs for i in range(3334)]
