"""The ACL users docs/security.md documents: exactly those commands, keys and channels are
enough for a producer and a worker, and a user missing one gets one error naming it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aqueue import AsyncQueue, ConnectionFailed, JobFailed, Queue, Retry, Worker, WorkerCrashed
from tests import tasks
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {"PRODUCER-PASSWORD": "p-secret", "WORKER-PASSWORD": "w-secret"}


def documented_acl_lines() -> list[str]:
    text = (ROOT / "docs" / "security.md").read_text()
    lines = re.findall(r"^ACL SETUSER aqueue-.*$", text, flags=re.MULTILINE)
    assert len(lines) == 3, lines
    return lines


def apply(port: int, line: str, *, without: str | None = None) -> None:
    words = line.split()[1:]  # after "ACL"
    words = [f">{PASSWORDS[w[1:]]}" if w[1:] in PASSWORDS else w for w in words]
    if without is not None:
        words.remove(f"+{without}")
    with redis.Redis(port=port) as admin:
        admin.execute_command("ACL", *words)


@pytest.fixture
def acl_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


def url(server: RedisServer, user: str) -> str:
    password = PASSWORDS["PRODUCER-PASSWORD" if user == "aqueue-producer" else "WORKER-PASSWORD"]
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


def denied(server: RedisServer) -> set[str]:
    with redis.Redis(port=server.port) as admin:
        return {entry["object"] for entry in admin.acl_log()}


async def test_the_documented_users_are_enough_for_producer_and_worker(
    acl_server: RedisServer
) -> None:
    producer_line, worker_line, _ = documented_acl_lines()
    apply(acl_server.port, producer_line)
    apply(acl_server.port, worker_line)
    producer, worker_url = url(acl_server, "aqueue-producer"), url(acl_server, "aqueue-worker")
    async with AsyncQueue("acl", url=producer) as q:
        plain = await q.enqueue(tasks.add, 1, 1)
        delayed = await q.enqueue_in(0.3, tasks.add, 2, 2)
        await q.enqueue_many([q.prepare(tasks.add, 3, 3) for _ in range(3)])
        failing = await q.enqueue(tasks.fail, "boom")
        retried = await q.enqueue(tasks.fail_times, "k", 1, retry=Retry(max=1, interval=0.1))
        queued_then_cancelled = await q.enqueue_in(100, tasks.add, 1, 1)
        assert await queued_then_cancelled.cancel()
        await q.fetch_job(plain.id)
        async with Worker(["acl"], url=worker_url, imports=["tests.tasks"], lease=1):
            assert await plain.result(timeout=5) == 2
            assert await delayed.result(timeout=5) == 4
            assert await retried.result(timeout=5) == "ok"
            with pytest.raises(JobFailed):
                await failing.result(timeout=5)
            with Queue("acl", url=producer) as sync_q:
                job = sync_q.enqueue("tests.tasks.add", 5, 5)
                assert await asyncio.to_thread(job.result, timeout=5) == 10
            assert await q.requeue_failed(all=True) == 1
            with pytest.raises(JobFailed):
                await failing.result(timeout=5)
        assert (await q.counts()).failed == 1
        await q.enqueue(tasks.add, 1, 1)
        assert await q.empty() == 1
    assert denied(acl_server) <= {"config|get"}  # the eviction check, skipped when refused


def test_the_documented_operator_grant_is_enough_for_aqueue_info(
    acl_server: RedisServer
) -> None:
    producer_line, _, operator_line = documented_acl_lines()
    apply(acl_server.port, producer_line)
    apply(acl_server.port, operator_line)
    with Queue("acl-info", url=url(acl_server, "aqueue-producer")) as q:
        q.enqueue("tests.tasks.add", 1, 1)
    done = subprocess.run([sys.executable, "-m", "aqueue", "info", "--url",
                           url(acl_server, "aqueue-producer")], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert re.search(r"^acl-info\s+1\s", done.stdout, flags=re.MULTILINE), done.stdout


async def test_a_producer_missing_a_script_command_gets_an_error_naming_it(
    acl_server: RedisServer
) -> None:
    apply(acl_server.port, documented_acl_lines()[0], without="zadd")
    async with AsyncQueue("acl", url=url(acl_server, "aqueue-producer")) as q:
        with pytest.raises(ConnectionFailed, match=r"may not run ZADD \(in aqueue's enqueue"):
            await q.enqueue(tasks.add, 1, 1)
    with Queue("acl", url=url(acl_server, "aqueue-producer")) as sync_q, \
            pytest.raises(ConnectionFailed, match="may not run ZADD"):
        sync_q.enqueue("tests.tasks.add", 1, 1)


async def test_a_producer_missing_a_plain_command_gets_an_error_naming_it(
    acl_server: RedisServer
) -> None:
    apply(acl_server.port, documented_acl_lines()[0], without="hgetall")
    async with AsyncQueue("acl", url=url(acl_server, "aqueue-producer")) as q:
        job = await q.enqueue(tasks.add, 1, 1)
        with pytest.raises(ConnectionFailed, match="'hgetall' command"):
            await q.fetch_job(job.id)


@pytest.mark.parametrize(("command", "loop"), [("bzpopmin", "claiming jobs"),
                                               ("blpop", "waiting for scheduled jobs")])
async def test_a_worker_missing_a_command_stops_with_an_error_naming_it(
    acl_server: RedisServer, command: str, loop: str
) -> None:
    apply(acl_server.port, documented_acl_lines()[1], without=command)
    worker = Worker(["acl"], url=url(acl_server, "aqueue-worker"), imports=["tests.tasks"])
    with pytest.raises(WorkerCrashed, match=f"{loop} failed: .*'{command}' command"):
        await asyncio.wait_for(worker.run(install_signal_handlers=False), 20)
