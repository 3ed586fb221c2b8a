"""RQ 2.x producer (sync API; RQ has no asyncio client)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from benchmarks.drivers.base import main
from benchmarks.tasks import rq_tasks

FUNCS = {"noop": rq_tasks.noop, "sleep": rq_tasks.sleep_job}


class RQAdapter:
    has_bulk = True

    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)
        self.queue = Queue("bench", connection=self.redis)

    async def connect(self) -> None:
        self.redis.ping()

    async def close(self) -> None:
        self.redis.close()

    async def enqueue(self, kind: str) -> None:
        self.queue.enqueue(FUNCS[kind])

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        data = [Queue.prepare_data(FUNCS[kind]) for _ in range(n)]
        with self.redis.pipeline() as pipe:
            self.queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()

    async def progress(self) -> tuple[int | None, int]:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.queue.key)
            pipe.zcard(self.queue.finished_job_registry.key)
            pipe.zcard(self.queue.failed_job_registry.key)
            waiting, finished, failed = pipe.execute()
        return int(waiting), int(finished) + int(failed)

    async def roundtrip(self) -> None:
        job = self.queue.enqueue(rq_tasks.noop)
        if job.latest_result(timeout=30) is None:
            raise TimeoutError("no result")


if __name__ == "__main__":
    main(RQAdapter)
