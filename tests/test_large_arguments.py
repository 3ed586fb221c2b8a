"""Large arguments: written to the job's hash in an HSET of their own, in one MULTI with the
enqueue script (Lua copying them costs Redis more than the rest of the enqueue), and
serialized without the json module's per-character escaping when they need none."""

from __future__ import annotations

import json
import random
import uuid

import pytest
import redis
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobExistsError, JobStatus, Queue
from aqueue.client.encoding import APART
from aqueue.serializers import LONG_STRING, JSONSerializer
from tests import tasks
from tests.conftest import WorkerFactory
from tests.servers.cluster import RedisCluster
from tests.test_enqueue import commandstats

pytestmark = pytest.mark.anyio

BIG = "x" * (64 * 1024)


def test_json_serializer_writes_long_strings_byte_for_byte_like_the_json_module() -> None:
    reference = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    rnd = random.Random(7)
    alphabet = 'ab"\\\n\t\x00\x1f\x7f\u00e9\u20ac\U0001f600 '
    for _ in range(500):
        size = rnd.choice([0, LONG_STRING - 1, LONG_STRING, 3000])
        text = "".join(rnd.choice(alphabet) if rnd.random() < 0.01 else "a" for _ in range(size))
        for value in (text, [text, 1, None], {"a": text, "b": [1.5]}, {1: text}, (text,)):
            assert JSONSerializer().dumps(value) == reference.encode(value).encode()


async def test_a_large_argument_reaches_the_worker_intact(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    text = BIG + '"quoted" \\ \n \u00e9'
    job = await queue.enqueue(tasks.echo, BIG, text=text)
    async with running_worker(queue.name):
        assert await job.result(timeout=10) == {"args": [BIG], "kwargs": {"text": text}}


def test_a_large_positional_argument_is_serialized_without_the_json_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = AsyncQueue("q", url="redis://127.0.0.1:1/0")  # prepare() never connects
    calls: list[object] = []
    real = JSONSerializer._encode

    def spy(value: object) -> str:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(JSONSerializer, "_encode", staticmethod(spy))
    assert queue.prepare(tasks.echo, BIG).args == b'["' + BIG.encode() + b'"]'
    assert queue.prepare(tasks.echo, text=BIG).kwargs == b'{"text":"' + BIG.encode() + b'"}'
    assert all(not (isinstance(c, str) and len(c) > 1000) for c in calls)
    assert not any(isinstance(c, list | tuple | dict) for c in calls)


async def test_a_large_argument_goes_in_its_own_hset_in_one_multi(
    queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(tasks.echo, BIG)  # loads the script
    before = commandstats(redis_url)
    job = await queue.enqueue(tasks.echo, BIG)
    after = commandstats(redis_url)
    assert {k: after[k] - before.get(k, 0) for k in ("multi", "exec", "evalsha")} == {
        "multi": 1, "exec": 1, "evalsha": 1}
    assert await job.get_status() is JobStatus.QUEUED
    assert len(job.args) >= APART


async def test_a_large_enqueue_loads_the_script_when_redis_has_forgotten_it(
    queue: AsyncQueue, redis: Redis
) -> None:
    await redis.script_flush()
    job = await queue.enqueue(tasks.echo, BIG)
    assert await queue.queued_job_ids() == [job.id]  # written once, not once per attempt
    assert (await redis.hget(queue.keys.job(job.id), "args")) == job.args


async def test_a_large_scheduled_job_keeps_its_arguments(queue: AsyncQueue, redis: Redis
                                                          ) -> None:
    job = await queue.enqueue_in(60, tasks.echo, data=BIG)
    assert await job.get_status() is JobStatus.SCHEDULED
    assert (await redis.hget(queue.keys.job(job.id), "kwargs")) == job.kwargs


async def test_a_large_job_with_a_taken_id_leaves_the_pending_one_alone(
    queue: AsyncQueue, redis: Redis
) -> None:
    await queue.enqueue(tasks.echo, "first", job_id="report-7")
    with pytest.raises(JobExistsError, match="report-7 is already queued"):
        await queue.enqueue(tasks.echo, BIG, job_id="report-7")
    assert (await redis.hget(queue.keys.job("report-7"), "args")) == b'["first"]'


def test_the_sync_queue_writes_large_arguments_apart_too(redis_url: str) -> None:
    with Queue(f"q-{uuid.uuid4().hex[:8]}", url=redis_url) as queue:
        with redis.Redis.from_url(redis_url) as client:
            client.script_flush()
        job = queue.enqueue(tasks.echo, BIG)
        assert queue.fetch_job(job.id).args == job.args
        assert queue.queued_job_ids() == [job.id]


async def test_a_large_enqueue_follows_moved_to_the_queues_node(
    fresh_redis_cluster: RedisCluster,
) -> None:
    names = fresh_redis_cluster.names_on_distinct_primaries(3)
    url = fresh_redis_cluster.startup_url  # one node: the others' queues answer MOVED
    for name in names:
        async with AsyncQueue(name, url=url) as queue:
            job = await queue.enqueue(tasks.echo, BIG)
            assert await queue.queued_job_ids() == [job.id]
            assert (await queue.fetch_job(job.id)).args == job.args


def test_json_serializer_refuses_what_the_json_module_refuses() -> None:
    for value in ([float("nan")], [object()], {1j: 1}):
        with pytest.raises((ValueError, TypeError)):
            JSONSerializer().dumps(value)
