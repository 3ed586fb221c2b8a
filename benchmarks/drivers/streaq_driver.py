"""streaq 7.x producer."""

from __future__ import annotations

from typing import Any

from benchmarks.drivers.base import main
from benchmarks.tasks.streaq_tasks import noop, sink, sleep_job, stamp, worker

FUNCS: dict[str, Any] = {"noop": noop, "sleep": sleep_job, "stamp": stamp, "sink": sink}
GROUP = "workers"


class StreaqAdapter:
    has_bulk = True

    def __init__(self, url: str) -> None:
        self.total = 0
        self.stream = worker.stream_key + worker.priorities[-1]

    async def connect(self) -> None:
        await worker.__aenter__()

    async def close(self) -> None:
        await worker.__aexit__(None, None, None)

    async def enqueue(self, kind: str, *args: Any) -> None:
        await FUNCS[kind].enqueue(*args)
        self.total += 1

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        await worker.enqueue_many([FUNCS[kind].enqueue() for _ in range(n)])
        self.total += n

    async def progress(self) -> tuple[int | None, int]:
        # A finished task is XACKed and XDELed, so the stream length is what is left to do;
        # the consumer group (created by the worker) counts the entries handed out.
        remaining = await worker.queue_size(include_scheduled=False)
        groups = await worker.redis.xinfo_groups(self.stream)
        read = sum(int(g.get("entries-read") or 0) for g in groups if g["name"] == GROUP)
        return self.total - read, self.total - remaining

    async def roundtrip(self) -> None:
        task = await noop.enqueue()
        await task.result(timeout=30)  # waits on streaq's pub/sub channel

    async def submit(self, kind: str) -> Any:
        task = await FUNCS[kind].enqueue()
        self.total += 1
        return task

    async def result(self, handle: Any, timeout: float) -> Any:
        return (await handle.result(timeout=int(timeout))).result  # pub/sub


if __name__ == "__main__":
    main(StreaqAdapter)
