"""``aqueue cron list|pause|resume|trigger|remove``: the schedules stored in queues."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, run_async
from aqueue.client.admin import AsyncAdmin
from aqueue.cron.info import ScheduleInfo
from aqueue.store.server import ping

cron_app = typer.Typer(no_args_is_help=True, help="Schedules: list, pause, resume, trigger, "
                                                  "remove.")
app.add_typer(cron_app, name="cron")
QueueOption = Annotated[str, typer.Option("--queue", "-q", help="The schedule's queue.")]


@cron_app.command("list")
def list_schedules(
    queues: Annotated[list[str] | None, typer.Argument(help="Queues (default: all found).")]
        = None,
    url: UrlOption = None,
) -> None:
    """Show each schedule: what it runs, its last run and its next runs."""

    async def go() -> list[ScheduleInfo]:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            found: list[ScheduleInfo] = []
            for name in queues or await admin.queues():
                found += await admin.queue(name).schedules()
            return found

    infos = run_async(go())
    if not infos:
        typer.echo("(no schedules)")
    for info in infos:
        state = "paused" if info.paused else ("done" if not info.next_runs else "active")
        typer.echo(f"{info.queue}/{info.name}  {state}  {info.func}  {info.description}")
        typer.echo(f"  runs {info.runs}, last run {_when(info.last_run_at)}"
                   + (f" ({info.last_job})" if info.last_job else ""))
        if info.next_runs:
            typer.echo("  next " + ", ".join(_when(t) for t in info.next_runs))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never"


def _control(action: str, name: str, queue: str, url: str | None) -> None:
    async def go() -> str:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            q = admin.queue(queue)
            if action == "trigger":
                return f"enqueued {(await q.trigger_schedule(name)).id}"
            await {"pause": q.pause_schedule, "resume": q.resume_schedule,
                   "remove": q.remove_schedule}[action](name)
            return {"pause": "paused", "resume": "resumed", "remove": "removed"}[action]

    typer.echo(f"{queue}/{name}: {run_async(go())}")


@cron_app.command()
def pause(name: str, queue: QueueOption = "default", url: UrlOption = None) -> None:
    """Stop enqueueing runs of schedule NAME."""
    _control("pause", name, queue, url)


@cron_app.command()
def resume(name: str, queue: QueueOption = "default", url: UrlOption = None) -> None:
    """Enqueue runs of schedule NAME again (ticks missed while paused are skipped)."""
    _control("resume", name, queue, url)


@cron_app.command()
def trigger(name: str, queue: QueueOption = "default", url: UrlOption = None) -> None:
    """Enqueue a run of schedule NAME now."""
    _control("trigger", name, queue, url)


@cron_app.command()
def remove(name: str, queue: QueueOption = "default", url: UrlOption = None) -> None:
    """Delete schedule NAME (a worker declaring it in code adds it again)."""
    _control("remove", name, queue, url)
