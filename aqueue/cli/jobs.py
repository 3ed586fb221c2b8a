"""Commands about a queue's jobs: ``job``, ``jobs``, ``failed``, ``requeue``, ``delete``,
``empty`` (``cancel``: cli/job_control.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
from aqueue.cli.info import format_age
from aqueue.cli.job_control import control_lines
from aqueue.client.async_queue import AsyncQueue
from aqueue.client.ops import LISTED_STATES
from aqueue.job import Job, JobStatus
from aqueue.serializers import get_serializer
from aqueue.store.server import ping

T = TypeVar("T")
SerializerOption = Annotated[str, typer.Option(help="How the arguments were serialized: "
                                                    "json, or pickle.")]
LimitOption = Annotated[int, typer.Option(min=1, help="How many to show.")]


def on_queue(name: str, url: str | None, action: Callable[[AsyncQueue], Awaitable[T]],
             serializer: str = "json") -> T:
    """Run ``action`` on the queue, with a check that Redis answers first."""

    async def go() -> T:
        async with AsyncQueue(name, url=url, serializer=get_serializer(serializer)) as queue:
            await ping(queue.store)
            return await action(queue)

    return run_async(go())


@app.command()
def job(queue: str, job_id: str, url: UrlOption = None,
        serializer: SerializerOption = "json") -> None:
    """Show one job: status, function, arguments, result or error, times, attempts."""
    found = on_queue(queue, url, lambda q: q.fetch_job(job_id), serializer)
    for line in describe_job(found):
        typer.echo(line)


def describe_job(job: Job[Any]) -> list[str]:
    def when(t: float | None) -> str:
        if not t:
            return "-"
        stamp = datetime.fromtimestamp(t, UTC).isoformat(sep=" ", timespec="milliseconds")
        now = time.time()
        return f"{stamp} ({format_age(abs(now - t))} {'ago' if t <= now else 'from now'})"

    lines = [f"job {job.id} in queue {job.queue_name}",
             f"  status       {job.status}",
             f"  function     {job.func}",
             f"  args         {_decoded(job, job.args)}",
             f"  kwargs       {_decoded(job, job.kwargs)}",
             f"  enqueued     {when(job.enqueued_at)}",
             f"  scheduled    {when(job.scheduled_for)}",
             f"  started      {when(job.started_at)}",
             f"  ended        {when(job.ended_at)}",
             f"  attempts     {job.attempts}" + (f" of {1 + job.retry.max}" if job.retry else ""),
             f"  deliveries   {job.deliveries}",
             f"  worker       {job.worker or '-'}",
             f"  timeout      {job.timeout:g} s"]
    if job.retry is not None:
        lines.append(f"  retry        {job.retry.to_json()}")
    if job.description:
        lines.append(f"  description  {job.description}")
    lines += control_lines(job, when)
    if job.status is JobStatus.FINISHED:
        lines.append(f"  result       {_decoded(job, job.raw_result or b'null')}")
    if job.exc_type:
        lines.append(f"  error        {job.exc_type}: {job.exc_message}")
        if job.exc_traceback:
            lines.append("  traceback")
            lines += [f"    {line}" for line in job.exc_traceback.rstrip().splitlines()]
    return lines


def _decoded(job: Job[Any], raw: bytes) -> str:
    assert job.queue is not None
    try:
        value = job.queue.serializer.loads(raw)
        return json.dumps(value, ensure_ascii=False, default=repr)[:2000]
    except Exception:
        return f"(undecodable: {raw[:80]!r})"


@app.command()
def jobs(
    queue: str,
    state: Annotated[str, typer.Option(help=f"One of {', '.join(LISTED_STATES)}.")] = "queued",
    limit: LimitOption = 20,
    url: UrlOption = None,
) -> None:
    """List jobs of QUEUE in a state (finished and canceled: the most recent)."""
    if state not in LISTED_STATES:
        fail(f"--state must be one of {', '.join(LISTED_STATES)}, got {state!r}", 2)
    page = on_queue(queue, url, lambda q: q.jobs(state, 0, limit - 1))
    for j in page:
        typer.echo(job_line(j))
    typer.echo(f"({len(page)} {state} job(s) shown)")


def job_line(job: Job[Any]) -> str:
    moment = job.ended_at or job.started_at or job.scheduled_for or job.enqueued_at
    error = f"  {job.exc_type}: {job.exc_message}"[:160] if job.exc_type else ""
    ago = time.time() - moment
    when = f"{format_age(ago)} ago" if ago >= 0 else f"in {format_age(-ago)}"
    return f"{job.id}  {job.status:<9}  {job.func}  {when}{error}"


@app.command()
def failed(
    queue: str,
    requeue_them: Annotated[bool, typer.Option("--requeue", help="Requeue the failed jobs "
                                                                 "listed (all with --all).")]
        = False,
    delete_them: Annotated[bool, typer.Option("--delete", help="Delete the failed jobs "
                                                               "listed (all with --all).")]
        = False,
    all_failed: Annotated[bool, typer.Option("--all", help="With --requeue or --delete: "
                                                           "every failed job.")] = False,
    limit: LimitOption = 20,
    url: UrlOption = None,
) -> None:
    """List failed jobs (newest first): id, function, error, when."""
    if requeue_them and delete_them:
        fail("give --requeue or --delete, not both", 2)
    if all_failed and not (requeue_them or delete_them):
        fail("--all goes with --requeue or --delete", 2)

    async def go(q: AsyncQueue) -> tuple[list[Job[Any]], int]:
        page = await q.jobs("failed", 0, limit - 1)
        ids = [j.id for j in page]
        if requeue_them:
            return page, await q.requeue_failed(*ids, all=all_failed)
        if delete_them:
            return page, await q.delete_failed(*ids, all=all_failed)
        return page, 0

    page, acted = on_queue(queue, url, go)
    for j in page:
        typer.echo(job_line(j))
    if requeue_them:
        typer.echo(f"requeued {acted} job(s) to {queue}")
    elif delete_them:
        typer.echo(f"deleted {acted} failed job(s) of {queue}")
    else:
        typer.echo(f"({len(page)} failed job(s) shown)")


@app.command()
def requeue(
    queue: str,
    job_ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids.")] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="Every failed job.")] = False,
    url: UrlOption = None,
) -> None:
    """Send failed jobs back to their queue."""
    if not all_failed and not job_ids:
        fail("give job ids, or --all", 2)
    moved = on_queue(queue, url, lambda q: q.requeue_failed(*(job_ids or []), all=all_failed))
    typer.echo(f"requeued {moved} job(s) to {queue}")


@app.command()
def delete(
    queue: str,
    job_ids: Annotated[list[str], typer.Argument(help="Job ids (not running ones).")],
    url: UrlOption = None,
) -> None:
    """Delete jobs that are not running."""
    deleted = on_queue(queue, url, lambda q: q.delete(*job_ids))
    typer.echo(f"deleted {deleted} job(s) of {queue}")
    if deleted < len(job_ids):
        fail(f"{len(job_ids) - deleted} job(s) were not deleted: running, or no such job", 1)


@app.command()
def empty(queue: str, url: UrlOption = None) -> None:
    """Drop every queued job of QUEUE."""
    dropped = on_queue(queue, url, lambda q: q.empty())
    typer.echo(f"dropped {dropped} job(s) from {queue}")
