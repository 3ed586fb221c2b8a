"""Garbage in Redis fails the job it belongs to, with a clear error; the worker carries on."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, JobFailed, JobStatus, PickleSerializer
from tests import tasks
from tests.conftest import BurstRunner

pytestmark = pytest.mark.anyio


async def inject(redis: Redis, queue: AsyncQueue, job_id: str, fields: dict[str, str | bytes]
                 ) -> None:
    if fields:
        await redis.hset(queue.keys.job(job_id), mapping=fields)  # type: ignore[arg-type]
    await redis.rpush(queue.keys.queued, job_id)


async def error_of(queue: AsyncQueue, job_id: str) -> tuple[str, str]:
    job = await queue.fetch_job(job_id)
    assert job.status is JobStatus.FAILED
    return job.exc_type or "", job.exc_message or ""


async def test_bad_jobs_fail_and_good_jobs_around_them_finish(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    good_before = await queue.enqueue(tasks.add, 1, 2)
    await inject(redis, queue, "garbage", {"junk": "\x00\xff"})
    await inject(redis, queue, "bad-json",
                 {"func": "tests.tasks.add", "args": "[1,", "kwargs": "{}"})
    good_after = await queue.enqueue(tasks.add, 3, 4)
    worker = await run_burst(queue.name)
    assert await good_before.result(timeout=1) == 3
    assert await good_after.result(timeout=1) == 7
    assert worker.stats.processed == 2
    assert worker.stats.failed == 2


async def test_a_hash_without_a_function_fails_as_invalid(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    await inject(redis, queue, "no-func", {"args": "[]"})
    await run_burst(queue.name)
    exc_type, message = await error_of(queue, "no-func")
    assert exc_type == "InvalidJob"
    assert "no 'func' field" in message


async def test_an_id_without_a_hash_fails_as_invalid(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    await inject(redis, queue, "ghost", {})
    await run_burst(queue.name)
    assert (await error_of(queue, "ghost"))[0] == "InvalidJob"
    assert await queue.failed_job_ids() == ["ghost"]


async def test_undecodable_arguments_fail_with_the_decoder_error(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    await inject(redis, queue, "bad-args",
                 {"func": "tests.tasks.add", "args": "[1,", "kwargs": "{}"})
    await run_burst(queue.name)
    exc_type, message = await error_of(queue, "bad-args")
    assert exc_type == "InvalidPayload"
    assert "tests.tasks.add): arguments cannot be decoded" in message


async def test_arguments_of_the_wrong_shape_fail(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    await inject(redis, queue, "shape",
                 {"func": "tests.tasks.add", "args": '{"a":1}', "kwargs": "[]"})
    await run_burst(queue.name)
    assert "expected a list and a dict" in (await error_of(queue, "shape"))[1]


async def test_a_non_numeric_timeout_fails_naming_the_field(
    queue: AsyncQueue, run_burst: BurstRunner, redis: Redis
) -> None:
    await inject(redis, queue, "t", {"func": "tests.tasks.add", "args": "[1,2]", "timeout": "soon"})
    await run_burst(queue.name)
    assert "job field 'timeout' is not a number" in (await error_of(queue, "t"))[1]


async def test_an_unknown_function_fails_naming_it(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    job = await queue.enqueue("tests.tasks.does_not_exist")
    await run_burst(queue.name)
    with pytest.raises(JobFailed, match=r"module tests\.tasks has no 'does_not_exist'"):
        await job.result(timeout=1)


async def test_a_result_the_serializer_cannot_encode_fails_the_job(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    job = await queue.enqueue(tasks.returns_unserializable)
    await run_burst(queue.name)
    with pytest.raises(JobFailed, match="returned a object that JSONSerializer cannot serialize"):
        await job.result(timeout=1)


async def test_a_pickle_payload_is_not_unpickled_by_a_json_worker(
    redis_url: str, run_burst: BurstRunner
) -> None:
    async with AsyncQueue("p", url=redis_url, serializer=PickleSerializer()) as queue:
        job = await queue.enqueue(tasks.add, 1, 2)
        await run_burst("p")
        with pytest.raises(JobFailed, match="arguments cannot be decoded"):
            await job.result(timeout=1)


async def test_pickle_works_when_both_sides_opt_in(redis_url: str, run_burst: BurstRunner) -> None:
    async with AsyncQueue("p", url=redis_url, serializer="pickle") as queue:
        job = await queue.enqueue(tasks.echo, (1, 2), {3})
        await run_burst("p", serializer="pickle")
        assert await job.result(timeout=1) == {"args": [(1, 2), {3}], "kwargs": {}}


async def test_an_unexpected_error_inside_aqueue_fails_only_that_job(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    broken = await queue.enqueue("tests.tasks.Exploding.boom")
    fine = await queue.enqueue(tasks.add, 2, 2)
    await run_burst(queue.name)
    with pytest.raises(JobFailed, match="InternalError: aqueue could not run the job"):
        await broken.result(timeout=1)
    assert await fine.result(timeout=1) == 4
