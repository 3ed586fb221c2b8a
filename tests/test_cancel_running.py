"""Cancelling a running job: a push to the worker that holds it, one final state."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aqueue import AsyncQueue, JobCanceled, JobStatus, Queue, Worker
from tests import control_tasks
from tests.topologies import Topology

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


def worker(topology: Topology, name: str, **options: object) -> Worker:
    options.setdefault("imports", ["tests.control_tasks"])
    return Worker([name], url=topology.url, **options)  # type: ignore[arg-type]


async def started(queue: AsyncQueue, job_id: str) -> None:
    for _ in range(200):
        if await queue.get_status(job_id) is JobStatus.STARTED:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} never started")


async def test_cancel_stops_a_running_job_within_100_ms(topology: Topology) -> None:
    control_tasks.observed.pop("a", None)
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name):
        job = await queue.enqueue(control_tasks.run_until_canceled, "a")
        await started(queue, job.id)
        await asyncio.sleep(0.05)
        before = time.perf_counter()
        assert await job.cancel() is True
        for _ in range(200):
            if isinstance(control_tasks.observed.get("a"), tuple):
                break
            await asyncio.sleep(0.005)
        _, seen_at = control_tasks.observed["a"]
        assert seen_at - before < 0.1
        assert await queue.get_status(job.id) is JobStatus.CANCELED


async def test_a_canceled_running_job_is_recorded_canceled_and_not_retried(
        topology: Topology) -> None:
    from aqueue import Retry

    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name) as w:
        job = await queue.enqueue_call(control_tasks.run_until_canceled, ["b"],
                                       retry=Retry(max=3, interval=0))
        await started(queue, job.id)
        await job.cancel()
        with pytest.raises(JobCanceled):
            await job.result(timeout=2)
        await asyncio.sleep(0.2)
        await job.refresh()
        assert job.status is JobStatus.CANCELED and job.attempts == 0
        assert [a.outcome for a in job.attempt_history] == ["canceled"]
        assert (await queue.counts()).started == 0
        assert w.stats.rejected == 0 and not w.acker.inflight


async def test_the_sync_queue_cancels_a_running_job(topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name):
        job = await queue.enqueue(control_tasks.run_until_canceled, "c")
        await started(queue, job.id)
        with Queue(queue.name, url=topology.url) as sync:
            assert await asyncio.to_thread(sync.cancel, job.id) is True
        with pytest.raises(JobCanceled):
            await job.result(timeout=2)


async def test_a_canceled_thread_job_ends_canceled_and_its_late_result_is_discarded(
        topology: Topology) -> None:
    control_tasks.thread_ended.clear()
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name) as w:
        job = await queue.enqueue(control_tasks.blocking_until, 0.5)
        await started(queue, job.id)
        await job.cancel()
        await asyncio.wait_for(asyncio.to_thread(control_tasks.thread_ended.wait, 3), 4)
        await asyncio.sleep(0.2)
        await job.refresh()
        assert job.status is JobStatus.CANCELED and job.raw_result is None
        assert len(w.running) == 0


async def test_a_job_canceled_while_its_worker_is_dead_is_not_reaped_back(
        topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue:
        job = await queue.enqueue(control_tasks.run_until_canceled, "d")
        victim = subprocess.Popen(
            [sys.executable, "-m", "aqueue", "worker", queue.name, "--url", topology.url,
             "--import", "tests.control_tasks", "--lease", "0.5"], cwd=ROOT,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while await queue.get_status(job.id) is not JobStatus.STARTED:
                assert time.monotonic() < deadline, "the worker process never started the job"
                await asyncio.sleep(0.05)
            victim.send_signal(signal.SIGKILL)
            victim.wait(5)
        finally:
            if victim.poll() is None:
                victim.kill()
        assert await job.cancel() is True
        async with worker(topology, queue.name, lease=0.5):
            await asyncio.sleep(1.0)  # past the dead worker's lease: the reaper looks
        assert await queue.get_status(job.id) is JobStatus.CANCELED
        counts = await queue.counts()
        assert counts.queued == 0 and counts.started == 0


async def test_cancel_of_a_finished_job_is_refused_and_changes_nothing(
        topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name):
        job = await queue.enqueue(control_tasks.add, 1, 2)
        assert await job.result(timeout=5) == 3
        assert await job.cancel() is False
        assert await queue.get_status(job.id) is JobStatus.FINISHED


async def test_cancel_racing_the_ack_leaves_one_final_state(topology: Topology) -> None:
    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name, concurrency=50):
        jobs = await queue.enqueue_many([queue.prepare(control_tasks.add, i, 1)
                                         for i in range(50)])
        outcomes = await asyncio.gather(*(j.cancel() for j in jobs))
        for job, canceled in zip(jobs, outcomes, strict=True):
            try:
                result = await job.result(timeout=5)
            except JobCanceled:
                assert canceled
            else:
                assert not canceled and result is not None
        counts = await queue.counts()
        assert counts.started == 0 and counts.queued == 0
        assert counts.finished + counts.canceled == 50


async def test_a_cancellation_that_overtakes_its_claim_is_applied_when_the_claim_lands(
        ) -> None:
    from aqueue.worker.acker import Acker
    from aqueue.worker.cancel import Canceller
    from aqueue.worker.claim_gate import ClaimGate
    from aqueue.worker.executor import Claimed
    from aqueue.worker.heartbeat import WorkerStats
    from aqueue.worker.running import RunningJobs

    acker = Acker(None, WorkerStats(), ClaimGate())  # type: ignore[arg-type]
    running = RunningJobs(acker)
    canceller = Canceller(running)
    assert canceller.cancel("j1", "w.n.1:1") is False  # no task runs it yet: kept
    claimed = Claimed(None, 0, "q", "j1", "w.n.1:1", {})  # type: ignore[arg-type]
    task = asyncio.ensure_future(asyncio.sleep(60))
    running.add(claimed, task)
    canceller.claimed(claimed)
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and claimed.settled and not canceller.early
    assert [ack.outcome for ack in acker._pending] == ["canceled"]


async def test_canceling_a_running_parent_cancels_its_dependents_and_runs_the_tolerant(
        topology: Topology) -> None:
    """The cancel of a running job is an end like any other for its dependents: a child
    whose policy is "fail" is canceled with the reason, one with "run" runs."""
    from aqueue import Dependency
    from tests import workflow_tasks

    async with AsyncQueue(topology.names[0], url=topology.url) as queue, \
            worker(topology, queue.name,
                   imports=["tests.control_tasks", "tests.workflow_tasks"]):
        parent = await queue.enqueue(control_tasks.run_until_canceled, "parent")
        strict = await queue.enqueue(workflow_tasks.note, "strict", depends_on=parent)
        tolerant = await queue.enqueue(workflow_tasks.note, "tolerant",
                                       depends_on=Dependency(parent, on_failure="run"))
        await started(queue, parent.id)
        assert await parent.cancel() is True
        with pytest.raises(JobCanceled, match="canceled"):
            await strict.result(timeout=5)
        assert await tolerant.result(timeout=5) == "tolerant"
