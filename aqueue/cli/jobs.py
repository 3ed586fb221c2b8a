"""``aqueue requeue`` and ``aqueue empty``: operating on a queue's jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
from aqueue.client.async_queue import AsyncQueue
from aqueue.store.server import ping


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

    async def go() -> int:
        async with AsyncQueue(queue, url=url) as q:
            await ping(q.store)
            return await q.requeue_failed(*(job_ids or []), all=all_failed)

    typer.echo(f"requeued {run_async(go())} job(s) to {queue}")


@app.command()
def empty(queue: str, url: UrlOption = None) -> None:
    """Drop every queued job of QUEUE."""

    async def go() -> int:
        async with AsyncQueue(queue, url=url) as q:
            await ping(q.store)
            return await q.empty()

    typer.echo(f"dropped {run_async(go())} job(s) from {queue}")
