"""``wait_replicas=N`` in the URL: an enqueue or an outcome counts only once N replicas
have it (WAIT), so that a failover cannot take it away."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from aqueue import AsyncQueue, ConnectionFailed, Queue, Worker
from aqueue.errors import EnqueueUncertain
from aqueue.store.urls import parse_url
from tests import tasks
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def primary_and_replica() -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = RedisServer()
    replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port))
    try:
        with redis.Redis(port=replica.port) as r:
            for _ in range(200):
                if r.info("replication").get("master_link_status") == "up":
                    break
                asyncio.run(asyncio.sleep(0.05))
        yield primary, replica
    finally:
        replica.close()
        primary.close()


def test_wait_replicas_must_be_a_count() -> None:
    with pytest.raises(ConnectionFailed, match="wait_replicas must be a number"):
        parse_url("redis://127.0.0.1:6390/0?wait_replicas=all")
    config = parse_url("redis://127.0.0.1:6390/0?wait_replicas=1&wait_timeout=0.5")
    assert (config.wait_replicas, config.wait_timeout) == (1, 0.5)


async def test_jobs_and_outcomes_are_on_the_replica_when_they_count(
    primary_and_replica: tuple[RedisServer, RedisServer]
) -> None:
    primary, replica = primary_and_replica
    url = f"redis://127.0.0.1:{primary.port}/0?wait_replicas=1"
    async with AsyncQueue("durable", url=url) as q:
        job = await q.enqueue(tasks.add, 1, 1)
        with redis.Redis(port=replica.port) as r:  # no waiting: WAIT already did
            assert r.hget(f"aq:{{durable}}:job:{job.id}", "status") == b"queued"
        async with Worker(["durable"], url=url, imports=["tests.tasks"]):
            assert await job.result(timeout=5) == 2
    with Queue("durable", url=url) as sync_q:
        sync_job = sync_q.enqueue("tests.tasks.add", 2, 2)
    with redis.Redis(port=replica.port) as r:
        assert r.hget(f"aq:{{durable}}:job:{job.id}", "status") == b"finished"
        assert r.hget(f"aq:{{durable}}:job:{sync_job.id}", "status") == b"queued"


async def test_an_enqueue_no_replica_confirms_is_reported_as_uncertain(
    redis_url: str
) -> None:
    url = f"{redis_url}?wait_replicas=1&wait_timeout=0.05"
    async with AsyncQueue("durable", url=url) as q:
        with pytest.raises(EnqueueUncertain, match=r"0 of 1 replicas confirmed") as uncertain:
            await q.enqueue(tasks.add, 1, 1)
    assert len(uncertain.value.job_ids) == 1
    with Queue("durable", url=url) as sync_q, \
            pytest.raises(EnqueueUncertain, match=r"0 of 1 replicas confirmed"):
        sync_q.enqueue("tests.tasks.add", 1, 1)
