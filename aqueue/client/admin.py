"""``AsyncAdmin``: what spans queues — discovering them, the live workers — over the same
connections as the queues it hands out. The CLI and the dashboard read through it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from redis.exceptions import RedisError

from aqueue.client.async_queue import AsyncQueue
from aqueue.client.ops import QueueTotals, oldest_queued_age, queue_totals
from aqueue.client.ops_inspect import RunningJob
from aqueue.client.translate import translate
from aqueue.errors import NoSuchJobError, WorkerNotListening
from aqueue.store import keys
from aqueue.store.store import Store

QUEUE_KEY_SUFFIXES = ("queued", "scheduled", "started", "failed", "stats")


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker, as its last heartbeat described it."""

    name: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    in_flight: int
    processed: int
    failed: int
    heartbeat_age: float  # seconds since its last heartbeat, by Redis's clock
    lease: float
    started_at: float
    supervisor: str | None
    fields: dict[str, str]
    sharing_name: int = 1  # live processes registered under this name (should be 1)

    @property
    def stale(self) -> bool:
        """No heartbeat for longer than a third of its lease plus a margin: stalled?"""
        return self.heartbeat_age > self.lease / 3 + 5


class AsyncAdmin:
    def __init__(self, *, url: str | None = None, connection: Any = None,
                 store: Store | None = None) -> None:
        self._owns_store = store is None
        self.store = store or Store.open(url, connection, name="aqueue:admin")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_store:
            await self.store.close()

    def queue(self, name: str, **options: Any) -> AsyncQueue:
        """An ``AsyncQueue`` sharing this admin's connections."""
        return AsyncQueue(name, store=self.store, **options)

    async def queues(self) -> list[str]:
        """Every queue producers or workers registered, and every queue that has keys
        (scanned on every primary of a cluster)."""
        try:
            found = {m.decode() for m in await self.store.call("SMEMBERS", keys.QUEUES,
                                                              key=keys.QUEUES)}
            for address in await self.store.primaries():
                connection = self.store.connection(address)
                for suffix in QUEUE_KEY_SUFFIXES:
                    cursor = b"0"
                    while True:
                        cursor, batch = await connection.call(
                            "SCAN", cursor, "MATCH", f"{keys.PREFIX}:{{*}}:{suffix}",
                            "COUNT", 1000)
                        for key in batch:
                            name = key.decode().split("{", 1)[1].rsplit("}", 1)[0]
                            if name != "aq":
                                found.add(name)
                        if cursor == b"0":
                            break
        except (RedisError, OSError) as exc:
            raise translate(exc, "list the queues of", "*", self.store) from None
        return sorted(found)

    async def workers(self) -> list[WorkerInfo]:
        """The live workers, by name."""
        try:
            now, rows = await self.store.script("workers", [keys.WORKERS],
                                                [f"{keys.CONTROL}:worker:"])
        except (RedisError, OSError) as exc:
            raise translate(exc, "list the workers of", "*", self.store) from None
        workers = []
        for _, raw, sharing in rows:
            f = {k.decode(): v.decode("utf-8", "replace") for k, v in zip(raw[::2], raw[1::2],
                                                                          strict=True)}
            workers.append(WorkerInfo(
                name=f.get("name", "?"), host=f.get("host", "?"), pid=int(f.get("pid", 0)),
                queues=[q for q in f.get("queues", "").split(",") if q],
                concurrency=int(f.get("concurrency", 0)), in_flight=int(f.get("in_flight", 0)),
                processed=int(f.get("processed", 0)), failed=int(f.get("failed", 0)),
                heartbeat_age=max(0.0, float(now) - float(f.get("heartbeat_at", now))),
                lease=float(f.get("lease", 30)), started_at=float(f.get("started_at", 0)),
                supervisor=f.get("supervisor"), fields=f, sharing_name=int(sharing)))
        return sorted(workers, key=lambda w: w.name)

    # -- reads for aqueue.observe (metrics, alerts, `aqueue info --watch`) -------------

    async def queue_totals(self, name: str) -> QueueTotals:
        """The queue's outcome totals since it was first used (see ``QueueTotals``)."""
        queue = self.queue(name)
        return await queue._run(queue_totals(queue.ops), "read the totals of")

    async def oldest_queued_age(self, name: str) -> float | None:
        """Seconds the next job of the queue has been waiting; None if nothing is queued."""
        queue = self.queue(name)
        return await queue._run(oldest_queued_age(queue.ops), "read the oldest job of")

    # -- dashboard: running jobs per worker, live stacks, servers ------------------------

    async def worker_jobs(self, worker: WorkerInfo, queues: dict[str, AsyncQueue] | None = None
                          ) -> list[tuple[str, RunningJob]]:
        """The jobs ``worker`` is running now, as (queue name, job), from the queues' started
        registries (``queues``: ``AsyncQueue`` objects to read through, by name)."""
        found = []
        for name in worker.queues:
            queue = (queues or {}).get(name) or self.queue(name)
            found += [(name, job) for job in await queue.running()
                      if job.record["worker"] == worker.name]
        return found

    async def job_stack(self, worker: str, job_id: str, timeout: float = 3.0) -> str:
        """The live stack of the task running ``job_id`` on ``worker``, asked of the worker
        over its control channel. ``WorkerNotListening`` if no process of that name
        listens; ``TimeoutError`` if it does not answer within ``timeout`` seconds;
        ``NoSuchJobError`` if the job is not running there."""
        reply = f"{keys.REPLY_PREFIX}{os.urandom(12).hex()}"
        request = json.dumps({"do": "stack", "job": job_id, "reply": reply})
        connection = self.store.dedicated(reply, name="aqueue:admin:reply")
        try:
            receivers = await self.store.call("SPUBLISH", keys.worker_control(worker), request,
                                              key=keys.worker_control(worker))
            if not receivers:
                raise WorkerNotListening(f"worker {worker} does not listen for requests: it is "
                                         "not running, or runs an aqueue without the control "
                                         "plugin")
            answer = await connection.call("BLPOP", reply, timeout, timeout=timeout)
        except (RedisError, OSError) as exc:
            raise translate(exc, "ask a worker about", job_id, self.store) from None
        finally:
            connection.close()
        if answer is None:
            raise TimeoutError(f"worker {worker} did not answer within {timeout:g} s")
        body = json.loads(answer[1])
        if not body.get("ok"):
            raise NoSuchJobError(str(body.get("error")))
        return str(body["stack"])

    async def servers(self) -> list[ServerInfo]:
        """Each primary's version, memory and clients (``INFO``), for the overview."""
        out = []
        try:
            for address in await self.store.primaries():
                raw = await self.store.connection(address).call("INFO")
                info = parse_info(raw.decode() if isinstance(raw, bytes) else str(raw))
                out.append(ServerInfo(
                    address=str(address), version=info.get("redis_version", "?"),
                    used_memory=int(info.get("used_memory", 0)),
                    maxmemory=int(info.get("maxmemory", 0)),
                    clients=int(info.get("connected_clients", 0)),
                    uptime=int(info.get("uptime_in_seconds", 0)),
                    policy=info.get("maxmemory_policy", "?")))
        except (RedisError, OSError) as exc:
            raise translate(exc, "read the servers of", "*", self.store) from None
        return out


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """One Redis primary, as ``INFO`` described it."""

    address: str
    version: str
    used_memory: int
    maxmemory: int  # 0: no limit
    clients: int
    uptime: int
    policy: str


def parse_info(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines()
             if ":" in line and not line.startswith("#"))
    return {k: v.strip() for k, v in pairs}
