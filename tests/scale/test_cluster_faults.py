"""A busy queue on a Redis Cluster while its slot moves, its primary fails over, or its
primary is SIGKILLed: no job is lost, and the duplicates and the pause are measured
(``-s`` prints them; ``$AQUEUE_FAULT_REPORT`` collects them, see ``make chaos``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.scale.drain import Drain, assert_nothing_lost, scale_jobs
from tests.servers.cluster import RedisCluster

pytestmark = pytest.mark.anyio
# Two workers of 10 slots over 50 ms jobs: about 400 jobs/s, so the fault, after a fifth of
# the jobs, lands mid-drain with seconds of work left.
JOB_MS = 50
CONCURRENCY = 10


async def test_a_slot_resharded_mid_drain_loses_no_job_and_no_outcome(
    fresh_redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    cluster = fresh_redis_cluster
    name = cluster.names_on_distinct_primaries(1, prefix="reshard")[0]
    slot = cluster.key_slot(f"aq:{{{name}}}:queued")
    source = cluster.port_for_slot(slot)
    target = next(p for p in cluster.primary_ports() if p != source)
    jobs = scale_jobs(1500)
    with Drain(cluster.url(), [name], tmp_path) as drain:
        await drain.enqueue(jobs, ms=JOB_MS)
        drain.spawn(concurrency=CONCURRENCY)
        drain.spawn(concurrency=CONCURRENCY)
        await drain.wait_ready()
        await drain.wait_for_ends(jobs // 5)
        began = time.monotonic()
        moved = await asyncio.to_thread(cluster.begin_migration, slot, target)
        await asyncio.sleep(0.5)  # half of the queue's keys on each node meanwhile
        moved += await asyncio.to_thread(cluster.finish_migration, slot, target)
        migration = time.monotonic() - began
        assert drain.ends() < jobs, "the drain was over before the reshard was"
        await drain.wait_until_finished(120)
        report = await drain.report("cluster reshard mid-drain", keys_moved=moved,
                                    migration_seconds=round(migration, 2))
    report.record()
    assert cluster.port_for_slot(slot) == target
    assert_nothing_lost(report)
    assert report.discarded_outcomes == 0, report.summary()
    assert report.duplicates == 0, report.summary()


async def test_a_cluster_failover_mid_drain_loses_no_job(
    fresh_redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    cluster = fresh_redis_cluster
    name = cluster.names_on_distinct_primaries(1, prefix="failover")[0]
    primary = cluster.port_for_slot(cluster.key_slot(f"aq:{{{name}}}:queued"))
    jobs = scale_jobs(1500)
    with Drain(cluster.url(), [name], tmp_path) as drain:
        await drain.enqueue(jobs, ms=JOB_MS)
        drain.spawn(concurrency=CONCURRENCY)
        drain.spawn(concurrency=CONCURRENCY)
        await drain.wait_ready()
        await drain.wait_for_ends(jobs // 5)
        seconds = await asyncio.to_thread(cluster.failover, primary)
        assert drain.ends() < jobs, "the drain was over before the failover was"
        await drain.wait_until_finished(120)
        report = await drain.report("CLUSTER FAILOVER mid-drain",
                                    failover_seconds=round(seconds, 2))
    report.record()
    assert cluster.port_for_slot(cluster.key_slot(f"aq:{{{name}}}:queued")) != primary
    assert_nothing_lost(report)


async def test_a_sigkilled_cluster_primary_mid_drain_loses_no_job(
    fresh_redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    cluster = fresh_redis_cluster
    name = cluster.names_on_distinct_primaries(1, prefix="kill")[0]
    primary = cluster.port_for_slot(cluster.key_slot(f"aq:{{{name}}}:queued"))
    jobs = scale_jobs(1500)
    with Drain(cluster.url(), [name], tmp_path) as drain:
        await drain.enqueue(jobs, ms=JOB_MS)
        drain.spawn(concurrency=CONCURRENCY)
        drain.spawn(concurrency=CONCURRENCY)
        await drain.wait_ready()
        await drain.wait_for_ends(jobs // 5)
        killed = time.monotonic()
        cluster.kill(primary)
        await asyncio.to_thread(cluster.wait_until_stable)
        replaced = time.monotonic() - killed
        assert drain.ends() < jobs, "the drain was over before the replica took over"
        await drain.wait_until_finished(120)
        report = await drain.report("cluster primary SIGKILL mid-drain",
                                    replica_promoted_after_seconds=round(replaced, 2))
    report.record()
    assert_nothing_lost(report)
