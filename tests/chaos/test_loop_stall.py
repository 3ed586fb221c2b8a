"""One event-loop stall longer than the lease (a job calling blocking code in an ``async
def``): the worker's jobs are reaped, and it claims them again while their first runs go
on. Each runs again at most once, the stale outcomes are rejected and counted, and no job
fails WorkerDied: no worker died."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import fault_jobs, jobs
from tests.chaos.harness import Chaos, discarded

pytestmark = pytest.mark.anyio

LEASE = 3.0
STALL = 4.5  # longer than the lease
# The other jobs' first runs end just after the stall (after the worker claimed them
# back); their re-runs take long enough for an unrenewed lease to expire meanwhile.
FIRST_MS, LATER_MS = 5000, 8000


@pytest.mark.timeout(90)
async def test_a_loop_stall_longer_than_the_lease_reruns_each_job_at_most_once(
    tmp_path: Path,
) -> None:
    """Worker A (lease 3 s, max deliveries 3) runs ten jobs; one blocks A's loop for
    4.5 s on its first delivery. Worker B is busy with one long job throughout, so its
    reaper takes A's expired leases during the stall (as A's own reaper does when it runs
    before A's heartbeat: which one runs first after a stall is down to timer order) but
    B cannot claim them: A claims them again. The first runs end 0.5 s after the stall;
    the re-runs last 8 s, longer than a lease and a reap interval, so a re-run whose lease
    is not renewed is reaped before it ends."""
    hold_ms = int(STALL * 1000 + LATER_MS)  # until the re-runs end
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            b = await chaos.spawn_ready(concurrency=1, lease=LEASE, max_deliveries=3)
            await queue.enqueue(jobs.work, "b-hold", hold_ms, 99, job_id="b-hold")
            await chaos.wait_started("b-hold", b, 10)
            a = await chaos.spawn_ready(concurrency=20, lease=LEASE, max_deliveries=3,
                                        imports=["tests.chaos.fault_jobs"])
            chaos.disrupted.add(a.pid)  # the stall is the disruption: re-runs are allowed
            expected = {"b-hold": jobs.expected_value(99), "blocker": jobs.expected_value(0)}
            await queue.enqueue(fault_jobs.block_loop_once, "blocker", STALL, 0,
                                job_id="blocker")
            for i in range(1, 10):
                tag = f"job-{i}"
                await queue.enqueue(fault_jobs.work_by_delivery, tag, FIRST_MS, LATER_MS, i,
                                    job_id=tag)
                expected[tag] = jobs.expected_value(i)
            # Two full runs of every job, plus a lease and a reap interval: ample for a
            # worker that runs each job at most twice.
            settled = await chaos.settle(
                lambda: chaos.finished_count() + chaos.queue_state()["failed"] >= len(expected),
                hold_ms / 1000 + LEASE + 5)
        verdict = chaos.verify(expected)
        starts = chaos.runs(expected)
        runs = {tag: len(runs) for tag, runs in starts.items()}
        stalled_at = starts["blocker"][0].at
        again = [runs[1].at - stalled_at for runs in starts.values() if len(runs) > 1]
        rejected = discarded(a)
        # The heartbeat publishes the worker's counters every lease / 3.
        await chaos.settle(
            lambda: chaos.worker_hash(a.name).get("rejected") == str(len(rejected)), LEASE)
        published = chaos.worker_hash(a.name).get("rejected")
        chaos.assert_verdict(verdict, f"runs per job {runs}; {len(rejected)} outcomes "
                                      f"rejected; re-runs started {min(again, default=0):.1f}-"
                                      f"{max(again, default=0):.1f} s after the stall began; "
                                      f"settled: {settled}")
        assert max(runs.values()) <= 2, f"a job ran more than twice after one stall: {runs}"
        assert verdict.duplicates > 0, "the stall cost no lease: the test tested nothing"
        assert sorted(rejected) == sorted(verdict.rerun), (
            f"each re-run job should have exactly one stale outcome rejected: rejected "
            f"{sorted(rejected)}, re-run {sorted(verdict.rerun)}")
        assert published == str(len(rejected)), (
            f"the heartbeat publishes rejected={published!r}, the log shows {len(rejected)}")
        assert a.alive()
