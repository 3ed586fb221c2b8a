"""Dependencies, chains and groups on a Redis Cluster, with queues on different primaries:
a parent's end crosses slots only as outbox messages, never in one script."""

from __future__ import annotations

import pytest

from aqueue import AsyncQueue, Dependency, JobCanceled, JobStatus, Worker, chain, group, step
from tests import workflow_tasks as t
from tests.servers.cluster import RedisCluster

pytestmark = pytest.mark.anyio
IMPORTS = ["tests.workflow_tasks"]


def worker(cluster: RedisCluster, *queues: AsyncQueue) -> Worker:
    return Worker([q.name for q in queues], url=cluster.url(), imports=IMPORTS)


async def test_child_waits_for_parents_on_two_other_primaries(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    first, second, third = three
    a = await first.enqueue(t.note, "a", 0.2)
    b = await second.enqueue(t.note, "b")
    child = await third.enqueue(t.note, "child", depends_on=[a, b])
    assert (await third.counts()).deferred == 1
    async with worker(fresh_redis_cluster, *three):
        assert await child.result(timeout=10) == "child"
    assert (await third.counts()).deferred == 0


async def test_parent_and_child_queues_served_by_different_workers(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    parents, children, _ = three
    jobs = [await parents.enqueue(t.number, i) for i in range(20)]
    kids = [await children.enqueue(t.note, f"k{i}", depends_on=j) for i, j in enumerate(jobs)]
    async with worker(fresh_redis_cluster, parents), worker(fresh_redis_cluster, children):
        assert await children.gather(kids, timeout=10) == [f"k{i}" for i in range(20)]


async def test_failure_policies_across_primaries(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    first, second, third = three
    bad = await first.enqueue(t.boom, "x")
    canceled = await second.enqueue(t.note, "no", depends_on=bad)
    runs = await third.enqueue(t.note, "yes", depends_on=Dependency(bad, on_failure="run"))
    async with worker(fresh_redis_cluster, *three):
        assert await runs.result(timeout=10) == "yes"
        with pytest.raises(JobCanceled, match=f"parent job {bad.id}"):
            await canceled.result(timeout=10)


async def test_canceling_a_parent_cancels_children_on_other_primaries(
        three: list[AsyncQueue]) -> None:
    first, second, third = three
    parent = await first.enqueue(t.note, "p")
    child = await second.enqueue(t.note, "c", depends_on=parent)
    grandchild = await third.enqueue(t.note, "g", depends_on=child)
    assert await parent.cancel()
    assert await second.get_status(child.id) is JobStatus.CANCELED
    assert await third.get_status(grandchild.id) is JobStatus.CANCELED


async def test_chain_and_group_span_three_primaries(
        three: list[AsyncQueue], fresh_redis_cluster: RedisCluster) -> None:
    first, second, third = three
    flow = await first.enqueue_workflow(chain(
        step(t.number, 1),
        step(t.add, 1).on(second.name),
        group(step(t.add, 10).on(third.name), step(t.add, 20)),
        step(t.total).on(second.name)))
    async with worker(fresh_redis_cluster, *three):
        assert await flow.result(timeout=10) == 12 + 22
