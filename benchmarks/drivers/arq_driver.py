"""arq 0.28 producer."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, in_progress_key_prefix, result_key_prefix
from arq.jobs import Job

from benchmarks.drivers.base import main

FUNCS = {"noop": "noop", "sleep": "sleep_job", "stamp": "stamp", "sink": "sink"}


class ArqAdapter:
    has_bulk = False  # arq has no bulk enqueue

    def __init__(self, url: str) -> None:
        self.settings = RedisSettings.from_dsn(url)
        self.redis: ArqRedis | None = None
        self.first_id: str | None = None
        self.total = 0

    async def connect(self) -> None:
        self.redis = await create_pool(self.settings)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def enqueue(self, kind: str, *args: Any) -> None:
        assert self.redis is not None
        job = await self.redis.enqueue_job(FUNCS[kind], *args)
        assert job is not None
        self.first_id = self.first_id or job.job_id
        self.total += 1

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        raise NotImplementedError

    async def progress(self) -> tuple[int | None, int]:
        # arq keeps a job in its queue (sorted set) until it finishes; a claimed job gets an
        # in-progress key. Watch the first job to see when the worker starts claiming.
        assert self.redis is not None and self.first_id is not None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(default_queue_name)
            pipe.exists(in_progress_key_prefix + self.first_id, result_key_prefix + self.first_id)
            remaining, first_claimed = await pipe.execute()
        waiting = self.total - 1 if first_claimed else self.total
        return waiting, self.total - int(remaining)

    async def roundtrip(self) -> None:
        assert self.redis is not None
        job = await self.redis.enqueue_job("noop")
        assert job is not None
        await job.result(timeout=30)  # polls every 0.5 s (arq's default poll_delay)

    async def submit(self, kind: str) -> Job:
        assert self.redis is not None
        job = await self.redis.enqueue_job(FUNCS[kind])
        assert job is not None
        self.first_id = self.first_id or job.job_id
        self.total += 1
        return job

    async def result(self, handle: Job, timeout: float) -> Any:
        return await handle.result(timeout=timeout)  # polls every 0.5 s


if __name__ == "__main__":
    main(ArqAdapter)
