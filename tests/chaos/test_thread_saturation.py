"""More plain ``def`` jobs than threads: a job's timeout counts from when it gets a thread,
not from its claim; and threads stuck in jobs past their timeout (which Python cannot
stop) are bounded by ``--threads``, counted, and reported, while the jobs that could not
get a thread go back to the queue instead of failing unstarted."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from tests.chaos import fault_jobs, jobs
from tests.chaos.harness import Chaos, chaos_size, thread_count

pytestmark = pytest.mark.anyio

LEASE = 10.0
THREAD_SLACK = 2  # threads a worker may start after its start besides its job threads


@pytest.mark.timeout(120)
async def test_def_job_timeouts_count_from_when_they_get_a_thread(tmp_path: Path) -> None:
    """200 def jobs of 0.5 s, job_timeout 2 s, at concurrency 200 with the default 40
    threads: they queue for threads for up to 2.5 s, and none times out."""
    n_jobs = chaos_size(200, 2000)
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            expected: dict[str, int] = {}
            prepared = []
            for i in range(n_jobs):
                tag = f"job-{i}"
                prepared.append(queue.prepare(fault_jobs.sleep_sync, tag, 0.5, i, job_id=tag,
                                              job_timeout=2))
                expected[tag] = jobs.expected_value(i)
            await queue.enqueue_many(prepared)
            worker = await chaos.spawn_ready(concurrency=200, lease=LEASE,
                                             imports=["tests.chaos.fault_jobs"])
            await chaos.settle(
                lambda: chaos.finished_count() + chaos.queue_state()["failed"] >= n_jobs,
                n_jobs / 40 * 0.5 + 20)
        verdict = chaos.verify(expected)
        state = chaos.queue_state()
        chaos.assert_verdict(verdict, f"{state.get('failed', 0)} of {n_jobs} failed")
        assert verdict.duplicates == 0
        assert worker.alive()


@pytest.mark.timeout(120)
async def test_stuck_job_threads_are_bounded_counted_and_reported(tmp_path: Path) -> None:
    """Never-returning def jobs with a 1 s timeout, more of them than slots and threads:
    as many start as there are threads, each fails with JobTimeout at its deadline and
    leaves its thread stuck; the worker starts no more threads, publishes the count,
    names the stuck jobs, and hands the jobs it cannot start back to the queue."""
    n_jobs = chaos_size(60, 300)
    concurrency = chaos_size(30, 200)
    threads = chaos_size(8, 40)
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            tags = [f"hang-{i}" for i in range(n_jobs)]
            await queue.enqueue_many([queue.prepare(fault_jobs.hang_sync, tag, 3600,
                                                    job_id=tag, job_timeout=1)
                                      for tag in tags])
            worker = await chaos.spawn_ready(
                concurrency=concurrency, lease=LEASE, imports=["tests.chaos.fault_jobs"],
                extra_args=["--threads", str(threads)])
            baseline = thread_count(worker.pid)
            most = baseline

            def stuck_and_settled() -> bool:
                nonlocal most
                most = max(most, thread_count(worker.pid))
                state = chaos.queue_state()
                return bool(state["failed"] >= threads and state["started"] == 0)

            settled = await chaos.settle(stuck_and_settled, 15)
            await anyio.sleep(1.0)  # and it stays so
            most = max(most, thread_count(worker.pid))
            await chaos.settle(
                lambda: chaos.worker_hash(worker.name).get("stuck_threads") == str(threads),
                LEASE / 3 + 1)
        started = sorted(tag for tag, runs in chaos.runs(tags).items() if runs)
        state = chaos.queue_state()
        note = (f"{len(started)} of {n_jobs} jobs started; threads {baseline} at start, at "
                f"most {most}; queue {state}; settled: {settled}")
        print(note)
        assert most <= baseline + threads + THREAD_SLACK, f"threads grew: {note}"
        assert len(started) == threads, f"expected {threads} jobs to start: {note}"
        with chaos.client() as r:
            failed = sorted(tag.decode() for tag in r.zrange(chaos.keys.failed, 0, -1))
        assert failed == started, f"failed jobs other than the stuck ones: {note}"
        for tag in started:
            assert chaos.job_hash(tag)["exc_type"] == "aqueue.errors.JobTimeout"
        assert (state["queued"], state["started"]) == (n_jobs - threads, 0), (
            f"the jobs without a thread should be back in the queue: {note}")
        assert chaos.worker_hash(worker.name).get("stuck_threads") == str(threads), (
            f"published: {chaos.worker_hash(worker.name)}")
        log = worker.log()
        for tag in started:
            assert re.search(rf"WARNING .*job {tag} .*stuck", log), (
                f"no warning names stuck job {tag}:\n{worker.tail(20)}")
        assert worker.alive()
