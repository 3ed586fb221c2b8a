"""taskiq 0.13 + taskiq-redis 1.2 producer (RedisStreamBroker)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from benchmarks.drivers.base import main
from benchmarks.tasks.taskiq_tasks import broker, noop, sink, sleep_job, stamp

FUNCS: dict[str, Any] = {"noop": noop, "sleep": sleep_job, "stamp": stamp, "sink": sink}


class TaskiqAdapter:
    has_bulk = False  # no bulk kick in taskiq

    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)
        self.total = 0

    async def connect(self) -> None:
        await broker.startup()  # creates the consumer group, as a producer app does

    async def close(self) -> None:
        await broker.shutdown()
        await self.redis.aclose()

    async def enqueue(self, kind: str, *args: Any) -> None:
        await FUNCS[kind].kiq(*args)
        self.total += 1

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        raise NotImplementedError

    async def progress(self) -> tuple[int | None, int]:
        # taskiq keeps no job state of its own; the stream's consumer group does:
        # entries-read = delivered, pending = delivered but not yet acked (ack after the
        # result is saved, taskiq's default).
        groups = await self.redis.xinfo_groups(broker.queue_name)
        if not groups:
            return self.total, 0
        g = groups[0]
        read = int(g.get("entries-read") or 0)
        return self.total - read, read - int(g["pending"])

    async def roundtrip(self) -> None:
        task = await noop.kiq()
        res = await task.wait_result(timeout=30)  # polls every 0.2 s (taskiq's default)
        if res.is_err:
            raise RuntimeError(res.error)

    async def submit(self, kind: str) -> Any:
        task = await FUNCS[kind].kiq()
        self.total += 1
        return task

    async def result(self, handle: Any, timeout: float) -> Any:
        res = await handle.wait_result(timeout=timeout)  # polls every 0.2 s
        if res.is_err:
            raise RuntimeError(res.error)
        return res.return_value


if __name__ == "__main__":
    main(TaskiqAdapter)
