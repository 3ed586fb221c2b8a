"""Producer side: what enqueueing writes to Redis, and the errors it raises."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from redis.asyncio import Redis

from aqueue import (
    AsyncQueue,
    ConnectionFailed,
    JobExistsError,
    JobStatus,
    Retry,
    SerializationError,
)
from tests import tasks

pytestmark = pytest.mark.anyio


def commandstats(url: str) -> dict[str, int]:
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_enqueue_writes_a_hash_readable_with_hgetall(queue: AsyncQueue, redis: Redis) -> None:
    job = await queue.enqueue(tasks.add, 1, b=2, description="adding")
    data = await redis.hgetall(queue.keys.job(job.id))
    assert data[b"func"] == b"tests.tasks.add"
    assert data[b"args"] == b"[1]"
    assert data[b"kwargs"] == b'{"b":2}'
    assert data[b"status"] == b"queued"
    assert data[b"description"] == b"adding"
    assert float(data[b"timeout"]) == 180.0
    assert int(data[b"result_ttl"]) == 500
    assert await queue.queued_job_ids() == [job.id]


async def test_enqueue_is_one_script_call(queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue(tasks.add, 0, 0)  # loads the script once
    before = commandstats(redis_url)
    await queue.enqueue(tasks.add, 1, 2)
    after = commandstats(redis_url)
    assert after["evalsha"] - before["evalsha"] == 1
    client_commands = {"evalsha", "multi", "exec", "hset", "rpush", "sadd"}
    outside_script = {k: after[k] - before.get(k, 0) for k in after
                      if k in client_commands and after[k] != before.get(k, 0)}
    assert outside_script["evalsha"] == 1
    assert "multi" not in outside_script


async def test_options_are_stored_on_the_job(queue: AsyncQueue) -> None:
    job = await queue.enqueue(tasks.echo, user_id=123, amount=99.9, job_timeout=60,
                              retry=Retry(max=3, interval=[10, 30, 60]), result_ttl=3600,
                              failure_ttl=86400)
    stored = await queue.fetch_job(job.id)
    assert stored.timeout == 60
    assert stored.result_ttl == 3600
    assert stored.failure_ttl == 86400
    assert stored.retry == Retry(max=3, interval=(10.0, 30.0, 60.0))
    assert queue.serializer.loads(stored.kwargs) == {"user_id": 123, "amount": 99.9}


async def test_enqueue_call_passes_arguments_named_like_options(queue: AsyncQueue) -> None:
    job = await queue.enqueue_call(tasks.echo, args=[1], kwargs={"job_timeout": 5, "retry": "x"},
                                   job_timeout=7)
    stored = await queue.fetch_job(job.id)
    assert queue.serializer.loads(stored.kwargs) == {"job_timeout": 5, "retry": "x"}
    assert stored.timeout == 7


async def test_function_may_be_given_by_dotted_name(queue: AsyncQueue) -> None:
    job = await queue.enqueue("tests.tasks.add", 1, 2)
    assert (await queue.fetch_job(job.id)).func == "tests.tasks.add"


async def test_unserializable_argument_is_named_at_enqueue_time(queue: AsyncQueue) -> None:
    with pytest.raises(SerializationError, match=r"argument 1 of tests.tasks.echo \(Decimal\)"):
        await queue.enqueue(tasks.echo, 1, Decimal("1.5"))
    with pytest.raises(SerializationError, match=r"keyword argument 'when' of .* \(datetime\)"):
        await queue.enqueue(tasks.echo, when=datetime.now())
    assert await queue.queued_job_ids() == []


async def test_lambdas_and_nested_functions_are_refused(queue: AsyncQueue) -> None:
    async def nested() -> None: ...

    with pytest.raises(ValueError, match="lambda or a nested function"):
        await queue.enqueue(lambda: None)
    with pytest.raises(ValueError, match="lambda or a nested function"):
        await queue.enqueue(nested)


async def test_explicit_job_id_cannot_be_enqueued_twice_while_pending(queue: AsyncQueue) -> None:
    await queue.enqueue(tasks.add, 1, 2, job_id="invoice-42")
    with pytest.raises(JobExistsError, match="invoice-42 is already queued"):
        await queue.enqueue(tasks.add, 3, 4, job_id="invoice-42")
    assert await queue.queued_job_ids() == ["invoice-42"]


async def test_enqueue_in_schedules_the_job(queue: AsyncQueue, redis: Redis) -> None:
    before = time.time()
    job = await queue.enqueue_in(timedelta(minutes=5), tasks.add, 1, 2)
    assert await job.get_status() is JobStatus.SCHEDULED
    score = await redis.zscore(queue.keys.scheduled, job.id)
    assert score is not None and before + 300 <= score <= time.time() + 300
    assert await queue.queued_job_ids() == []


async def test_enqueue_at_schedules_at_an_aware_datetime(queue: AsyncQueue, redis: Redis) -> None:
    when = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    aware = await queue.enqueue_at(when, tasks.add, 1, 2, job_timeout=5)
    assert await redis.zscore(queue.keys.scheduled, aware.id) == when.timestamp()
    assert (await queue.fetch_job(aware.id)).timeout == 5


async def test_enqueue_at_refuses_a_naive_datetime(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match="needs an aware datetime"):
        await queue.enqueue_at(datetime(2030, 1, 1, 12, 0), tasks.add, 1, 2)
    assert (await queue.counts()).scheduled == 0


async def test_enqueue_many_writes_one_script_call_per_batch(
    queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(tasks.add, 0, 0)
    before = commandstats(redis_url)
    jobs = await queue.enqueue_many([queue.prepare(tasks.add, i, i) for i in range(2500)],
                                    batch_size=1000)
    after = commandstats(redis_url)
    assert after["evalsha"] - before["evalsha"] == 3
    assert len(jobs) == 2500
    assert (await queue.counts()).queued == 2501
    assert (await queue.queued_job_ids(1, 3)) == [j.id for j in jobs[:3]]


async def test_enqueue_fails_fast_with_a_clear_error_when_redis_is_down() -> None:
    async with AsyncQueue("q", url="redis://127.0.0.1:1/0") as q:
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match=r"cannot enqueue to 'q'.*unreachable"):
            await q.enqueue(tasks.add, 1, 2)
        assert time.monotonic() - started < 5


def test_a_url_that_is_not_redis_is_named_in_the_error() -> None:
    with pytest.raises(ConnectionFailed, match="'http://example' is not a Redis URL"):
        AsyncQueue("q", url="http://example")


def test_queue_names_with_braces_or_colons_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid queue name"):
        AsyncQueue("a:{b}", url="redis://127.0.0.1:1/0")
