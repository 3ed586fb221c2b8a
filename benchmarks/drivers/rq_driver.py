"""RQ 2.x producer (sync API; RQ has no asyncio client)."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job

from benchmarks.drivers.base import main
from benchmarks.tasks import rq_tasks

MAX_CONNECTIONS = 1000
FUNCS = {"noop": rq_tasks.noop, "sleep": rq_tasks.sleep_job, "stamp": rq_tasks.stamp,
         "sink": rq_tasks.sink}


class RQAdapter:
    has_bulk = True

    def __init__(self, url: str) -> None:
        # redis-py's default pool (100 connections) raises MaxConnectionsError when 200
        # threads wait for results at once (RQ's wait holds a connection), and its default
        # 5 s socket timeout cuts a blocking XREAD for a result short: lift both.
        self.redis = Redis.from_url(url, max_connections=MAX_CONNECTIONS, socket_timeout=None)
        self.queue = Queue("bench", connection=self.redis)

    async def connect(self) -> None:
        self.redis.ping()

    async def close(self) -> None:
        self.redis.close()

    async def enqueue(self, kind: str, *args: Any) -> None:
        self.queue.enqueue(FUNCS[kind], *args)

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

    async def submit(self, kind: str) -> Job:
        return self.submit_sync(kind)

    async def result(self, handle: Job, timeout: float) -> Any:
        return self.result_sync(handle, timeout)

    def enqueue_sync(self, kind: str, *args: Any) -> None:
        self.queue.enqueue(FUNCS[kind], *args)

    def submit_sync(self, kind: str) -> Job:
        return self.queue.enqueue(FUNCS[kind])

    def result_sync(self, handle: Job, timeout: float) -> Any:
        result = handle.latest_result(timeout=int(timeout))  # blocking XREAD on the job's stream
        if result is None:
            raise TimeoutError("no result")
        return result.return_value


if __name__ == "__main__":
    main(RQAdapter)
