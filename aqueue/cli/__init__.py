"""The ``aqueue`` command: worker, info, requeue, empty, demo."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from redis.asyncio import Redis

from aqueue.client.async_queue import AsyncQueue
from aqueue.errors import AqueueError
from aqueue.store import keys
from aqueue.store.connection import as_text, connect, default_url, ping, redact
from aqueue.worker.executor import busy_job_threads
from aqueue.worker.worker import DEFAULT_GRACE, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, Worker

T = TypeVar("T")
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="aqueue: an asyncio-native task queue on Redis.")

# No default in the signature: --help would print $AQUEUE_URL, password included.
UrlOption = Annotated[str | None, typer.Option(
    envvar="AQUEUE_URL", show_envvar=True, show_default=False,
    help="Redis URL (default redis://127.0.0.1:6379/0).")]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run with uvloop when it is installed; turn aqueue errors into one clear line."""
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    except AqueueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


@app.command()
def worker(
    queues: Annotated[list[str], typer.Argument(help="Queues to serve, highest priority first.")],
    url: UrlOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1)] = 10,
    imports: Annotated[list[str], typer.Option(
        "--import", "-i", help="Module whose functions may run (repeatable).")] = [],  # noqa: B006
    burst: Annotated[bool, typer.Option(help="Exit when there is no work left.")] = False,
    threads: Annotated[int | None, typer.Option(help="Threads for plain def functions.")] = None,
    serializer: Annotated[str, typer.Option(help="json, or pickle (trusted producers only).")]
        = "json",
    lease: Annotated[float, typer.Option(help="Seconds before a dead worker's jobs are "
                                              "handed to another.")] = DEFAULT_LEASE,
    grace: Annotated[float, typer.Option(help="Seconds running jobs get to finish on SIGTERM.")]
        = DEFAULT_GRACE,
    max_deliveries: Annotated[int, typer.Option(help="Fail a job after its worker died this "
                                                     "many times running it (0: never).")]
        = DEFAULT_MAX_DELIVERIES,
    name: Annotated[str | None, typer.Option(help="Worker name (default host.pid.random).")]
        = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run jobs from QUEUES."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not imports:
        typer.secho("error: give at least one --import MODULE: a worker only runs functions "
                    "defined in modules its operator names", fg="red", err=True)
        raise typer.Exit(2)
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current folder can be imported
    try:
        w = Worker(queues, url=url or default_url(), imports=imports, concurrency=concurrency,
                   burst=burst, threads=threads, serializer=serializer, lease=lease, grace=grace,
                   max_deliveries=max_deliveries, name=name)
    except ImportError as exc:
        typer.secho(f"error: cannot import {exc.name or exc}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except (AqueueError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        run_async(_work(w))
    finally:
        _exit_without_waiting_for_job_threads()


async def _work(w: Worker) -> None:
    """Run the worker. Jobs that ignored their cancellation are recorded or requeued, but
    their coroutines still run, and ``asyncio.run()`` would wait for them for ever: exit
    without waiting."""
    try:
        await w.run()
    finally:
        if w.abandoned:
            error = sys.exc_info()[1]
            if isinstance(error, AqueueError):
                typer.secho(f"error: {error}", fg="red", err=True)
            _exit_now(1 if error is not None else 0)


def _exit_without_waiting_for_job_threads() -> None:
    """A plain ``def`` job past its timeout, or handed back at shutdown, may still be running
    in a thread Python cannot stop; the job is already recorded or requeued, so do not let
    it hold the process (and a deploy) hostage."""
    stuck = busy_job_threads()
    if stuck:
        logging.getLogger("aqueue.worker").warning(
            "%d job thread(s) still running (plain def jobs past their timeout or handed "
            "back); exiting without waiting for them", stuck)
        code = sys.exc_info()[1]
        _exit_now(code.exit_code if isinstance(code, typer.Exit) else 0)


def _exit_now(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@app.command()
def info(
    queues: Annotated[list[str] | None, typer.Argument(help="Queues (default: all found).")]
        = None,
    url: UrlOption = None,
) -> None:
    """Show job counts per queue, and the live workers."""
    run_async(_info(queues or [], url or default_url()))


async def _info(names: list[str], url: str) -> None:
    redis = connect(url)
    try:
        await ping(redis, url)
        if not names:
            names = await _discover_queues(redis)
        typer.echo(f"Redis {redact(url)}")
        header = f"{'queue':<24}{'queued':>9}{'scheduled':>11}{'started':>9}{'failed':>8}"
        typer.echo(header + f"{'finished':>10}")
        for name in names:
            c = await AsyncQueue(name, connection=redis).counts()
            typer.echo(f"{name:<24}{c.queued:>9}{c.scheduled:>11}{c.started:>9}{c.failed:>8}"
                       f"{c.finished:>10}")
        if not names:
            typer.echo("(no queues)")
        workers = await redis.zrangebyscore(keys.WORKERS, time.time(), "+inf")
        typer.echo(f"\n{len(workers)} live worker(s)")
        for worker_name in workers:
            data = await redis.hgetall(keys.worker_key(as_text(worker_name)))
            if data:
                w = {as_text(k): as_text(v) for k, v in data.items()}
                typer.echo(f"  {w['name']}  host={w['host']} pid={w['pid']} queues={w['queues']} "
                           f"concurrency={w['concurrency']} in_flight={w['in_flight']} "
                           f"processed={w['processed']} failed={w['failed']}")
    finally:
        await redis.aclose()


async def _discover_queues(redis: Redis) -> list[str]:
    found: set[str] = set()
    for suffix in ("queued", "scheduled", "started", "failed", "stats"):
        async for key in redis.scan_iter(match=f"{keys.PREFIX}:{{*}}:{suffix}", count=1000):
            found.add(as_text(key).split("{", 1)[1].rsplit("}", 1)[0])
    return sorted(found)


@app.command()
def requeue(
    queue: str,
    job_ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids.")] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="Every failed job.")] = False,
    url: UrlOption = None,
) -> None:
    """Send failed jobs back to their queue."""
    if not all_failed and not job_ids:
        typer.secho("error: give job ids, or --all", fg="red", err=True)
        raise typer.Exit(2)

    async def go() -> int:
        async with AsyncQueue(queue, url=url or default_url()) as q:
            await ping(q.redis, url or default_url())
            return await q.requeue_failed(*(job_ids or []), all=all_failed)

    typer.echo(f"requeued {run_async(go())} job(s) to {queue}")


@app.command()
def empty(queue: str, url: UrlOption = None) -> None:
    """Drop every queued job of QUEUE."""

    async def go() -> int:
        async with AsyncQueue(queue, url=url or default_url()) as q:
            await ping(q.redis, url or default_url())
            return await q.empty()

    typer.echo(f"dropped {run_async(go())} job(s) from {queue}")


@app.command()
def demo(
    jobs: Annotated[int, typer.Option(min=1)] = 20_000,
    concurrency: Annotated[int, typer.Option(min=1)] = 200,
    url: Annotated[str | None, typer.Option(envvar="AQUEUE_URL",
                                            help="Redis to use (default: local, or a "
                                                 "private redis-server).")] = None,
) -> None:
    """Run a worker at CONCURRENCY over JOBS jobs and show the throughput."""
    from aqueue.demo import run_demo

    run_async(run_demo(jobs=jobs, concurrency=concurrency, url=url))


def main() -> None:
    app()
