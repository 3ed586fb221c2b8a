"""Mistakes a producer makes are caught at enqueue, with an error naming the problem,
instead of failing later in a worker."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobStatus, Queue
from aqueue.errors import PayloadTooLarge, QueueClosed
from tests import tasks

pytestmark = pytest.mark.anyio


class Mailer:
    async def send(self, to: str) -> None:  # a method: its instance cannot travel
        return None


@pytest.mark.parametrize(("option", "hint"), [
    ("timeout", "RQ's `timeout` is `job_timeout` in aqueue"),
    ("job_ttl", "RQ's `job_ttl` is not an aqueue option"),
])
async def test_an_rq_option_name_is_refused_with_what_aqueue_calls_it(
    queue: AsyncQueue, option: str, hint: str
) -> None:
    pattern = rf"unexpected keyword argument '{option}'.*{re.escape(hint)}"
    with pytest.raises(TypeError, match=pattern):
        await queue.enqueue(tasks.add, 1, 2, **{option: 5})
    assert (await queue.counts()).queued == 0


async def test_a_missing_required_argument_is_refused_naming_it(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match=r"cannot enqueue tests\.tasks\.add: missing a required "
                                        "argument: 'b'"):
        await queue.enqueue(tasks.add, 1)


async def test_a_function_taking_any_keywords_accepts_option_like_names(
    queue: AsyncQueue
) -> None:
    job = await queue.enqueue_call(tasks.echo, kwargs={"timeout": 5})
    assert queue.serializer.loads((await queue.fetch_job(job.id)).kwargs) == {"timeout": 5}


async def test_a_bound_method_is_refused_like_a_lambda(queue: AsyncQueue) -> None:
    with pytest.raises(ValueError, match=r"Mailer\.send is a bound method"):
        await queue.enqueue(Mailer().send, "a@b.c")


async def test_retry_given_a_number_says_what_retry_takes(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError, match=r"retry takes a Retry policy, e\.g\. Retry\(max=3"):
        await queue.enqueue(tasks.add, 1, 2, retry=3)


@pytest.mark.parametrize(("options", "message"), [
    ({"job_timeout": "soon"}, "job_timeout takes seconds"),
    ({"job_timeout": -1}, "job_timeout must be > 0"),
    ({"result_ttl": 1.5}, "result_ttl takes whole seconds"),
    ({"job_id": "a b"}, "invalid job_id 'a b'"),
    ({"description": 7}, "description takes a string"),
])
async def test_an_option_out_of_range_is_refused_naming_it(
    queue: AsyncQueue, options: dict[str, Any], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        await queue.enqueue(tasks.add, 1, 2, **options)


async def test_arguments_over_max_payload_are_refused_with_their_size(redis_url: str) -> None:
    async with AsyncQueue("big", url=redis_url, max_payload=1024) as queue:
        with pytest.raises(PayloadTooLarge, match=r"are 2\.0 KiB serialized, over this "
                                                  r"queue's max_payload of 1\.0 KiB"):
            await queue.enqueue(tasks.echo, "x" * 2048)
        assert (await queue.enqueue(tasks.echo, "small")).status is JobStatus.QUEUED


async def test_a_write_redis_refuses_does_not_poison_the_next_call(redis_url: str) -> None:
    """A bulk string over Redis's limit gets a protocol error and a closed connection; the
    next call must reconnect rather than fail."""
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        async with AsyncQueue("poison", url=redis_url) as queue:
            with pytest.raises(PayloadTooLarge, match="proto-max-bulk-len"):
                await queue.enqueue(tasks.echo, "x" * (2 * 1024 * 1024))
            job = await queue.enqueue(tasks.echo, "next")
            assert (await queue.fetch_job(job.id)).status is JobStatus.QUEUED
    finally:
        with redis.Redis.from_url(redis_url) as admin:
            admin.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


def test_a_write_redis_refuses_does_not_poison_the_next_sync_call(redis_url: str) -> None:
    """The same through the sync Queue: an argument over proto-max-bulk-len (written apart
    from the script, in a MULTI) is PayloadTooLarge, and the next enqueue works."""
    with redis.Redis.from_url(redis_url) as admin:
        admin.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        with Queue("poison-sync", url=redis_url) as queue:
            with pytest.raises(PayloadTooLarge, match="proto-max-bulk-len"):
                queue.enqueue(tasks.echo, "x" * (2 * 1024 * 1024))
            job = queue.enqueue(tasks.echo, "next")
            assert queue.fetch_job(job.id).status is JobStatus.QUEUED
    finally:
        with redis.Redis.from_url(redis_url) as admin:
            admin.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


async def test_a_closed_queue_refuses_to_be_used(queue: AsyncQueue, redis: Redis) -> None:
    await queue.enqueue(tasks.add, 1, 1)
    await queue.close()
    with pytest.raises(QueueClosed, match="is closed"):
        await queue.enqueue(tasks.add, 1, 1)
    with pytest.raises(QueueClosed):
        await queue.counts()


async def test_a_sync_redis_client_names_the_server_for_an_async_queue(
    redis_url: str, redis: Redis
) -> None:
    """aqueue reads where a redis-py client points and opens its own connections, so a
    sync client (RQ style) or decode_responses=True cannot confuse what it reads."""
    for client in (redis_py_sync(redis_url), redis_py_sync(redis_url, decode=True)):
        async with AsyncQueue("from-client", connection=client) as queue:
            job = await queue.enqueue(tasks.add, 1, 2)
            await redis.hset(queue.keys.job(job.id), "status", "finished")
            assert (await queue.fetch_job(job.id)).status is JobStatus.FINISHED
        client.close()


def redis_py_sync(url: str, decode: bool = False) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=decode)


async def test_one_queue_serves_many_event_loops_in_turn(redis_url: str) -> None:
    """asyncio.run() twice on one queue (scripts, tests, CLI helpers) works."""
    queue = AsyncQueue("loops", url=redis_url)

    async def enqueue_one() -> str:
        return (await queue.enqueue(tasks.add, 1, 1)).id

    ids = [await asyncio.to_thread(asyncio.run, enqueue_one()) for _ in range(3)]
    assert len(set(ids)) == 3
    assert (await queue.counts()).queued == 3
    await queue.close()


def test_a_sync_queue_enqueues_and_reads_jobs(redis_url: str) -> None:
    with Queue("sync", url=redis_url) as queue:
        job = queue.enqueue(tasks.add, 2, 3, job_timeout=9)
        stored = queue.fetch_job(job.id)
        assert (stored.status, stored.timeout) == (JobStatus.QUEUED, 9)
        assert queue.counts().queued == 1
        assert queue.cancel(job.id) is True
        assert queue.get_status(job.id) is JobStatus.CANCELED


@pytest.mark.parametrize("name", ["bad\nname", "tab\there", "bell\x07", "{tag}", "a:b", ""])
def test_a_queue_name_that_would_break_keys_or_terminals_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid queue name"):
        AsyncQueue(name)
