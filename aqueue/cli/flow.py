"""``aqueue pause|resume|suspend|limits``: hold queues back for every worker at once."""

from __future__ import annotations

from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
from aqueue.client.admin import AsyncAdmin
from aqueue.flow.limits import Limits, Rate
from aqueue.store.server import ping


def _each(queues: list[str], action: str, url: str | None) -> list[tuple[str, Limits]]:
    async def go() -> list[tuple[str, Limits]]:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            names = queues or await admin.queues()
            done = []
            for name in names:
                q = admin.queue(name)
                done.append((name, await (q.pause() if action == "pause" else q.resume())))
            return done

    return run_async(go())


@app.command()
def pause(queues: Annotated[list[str], typer.Argument(help="Queues to pause.")],
          url: UrlOption = None) -> None:
    """Stop all workers from starting jobs of QUEUES (running jobs finish)."""
    for name, _ in _each(queues, "pause", url):
        typer.echo(f"{name}: paused")


@app.command()
def suspend(url: UrlOption = None) -> None:
    """Pause every queue found (``aqueue resume`` undoes it)."""
    done = _each([], "pause", url)
    for name, _ in done:
        typer.echo(f"{name}: paused")
    if not done:
        typer.echo("(no queues)")


@app.command()
def resume(queues: Annotated[list[str] | None, typer.Argument(
        help="Queues to resume (default: every queue found).")] = None,
        url: UrlOption = None) -> None:
    """Let workers start jobs of QUEUES again (default: all queues)."""
    for name, _ in _each(queues or [], "resume", url):
        typer.echo(f"{name}: resumed")


@app.command()
def limits(
    queue: str,
    rate: Annotated[str | None, typer.Option(help="Job starts per period for the whole "
                                                  "queue, e.g. 10/s, 600/m.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Running jobs at most, "
                                                          "across all workers.")] = None,
    key_rate: Annotated[str | None, typer.Option(help="Job starts per period per "
                                                      "limit_key.")] = None,
    key_concurrency: Annotated[int | None, typer.Option(min=1, help="Running jobs at most "
                                                              "per limit_key.")] = None,
    clear: Annotated[bool, typer.Option(help="Remove every limit.")] = False,
    url: UrlOption = None,
) -> None:
    """Show QUEUE's limits, or set them (the options given replace all limits)."""
    setting = clear or any(v is not None for v in (rate, concurrency, key_rate, key_concurrency))
    try:
        for value in (rate, key_rate):
            if value is not None:
                Rate.parse(value)
    except ValueError as exc:
        fail(str(exc), 2)

    async def go() -> Limits:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            q = admin.queue(queue)
            if not setting:
                return await q.limits()
            return await q.set_limits(rate=rate, concurrency=concurrency, key_rate=key_rate,
                                      key_concurrency=key_concurrency)

    typer.echo(f"{queue}: {run_async(go()).describe()}")
