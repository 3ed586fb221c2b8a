"""``aqueue info``: job counts per queue, and the live workers."""

from __future__ import annotations

import contextlib
import signal
from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.client.ops import QueueCounts
from aqueue.store.server import ping


@app.command()
def info(
    queues: Annotated[list[str] | None, typer.Argument(help="Queues (default: all found).")]
        = None,
    url: UrlOption = None,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C, with "
                                                          "per-queue rates.")] = False,
    interval: Annotated[float | None, typer.Option(
        help="Seconds between refreshes (implies --watch; default 2).", show_default=False)]
        = None,
) -> None:
    """Show job counts per queue, and the live workers."""
    if interval is not None and not interval > 0:
        fail(f"--interval must be positive, got {interval}", 2)
    if watch or interval is not None:
        _watch(queues or [], url, interval or 2.0)
        return
    run_async(_info(queues or [], url))


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _watch(names: list[str], url: str | None, interval: float) -> None:
    from aqueue.observe.watch import watch

    async def go() -> None:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            await watch(admin, names, interval)

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        run_async(go())


async def _info(names: list[str], url: str | None) -> None:
    # Imported here, not at the top: `aqueue worker` should not load the producers.
    from aqueue.client.admin import AsyncAdmin
    from aqueue.store.server import ping

    async with AsyncAdmin(url=url) as admin:
        await ping(admin.store)
        names = names or await admin.queues()
        workers = await admin.workers()
        counts = {name: await admin.queue(name).counts() for name in names}
    typer.echo(f"Redis {admin.store.describe()}")
    typer.echo(queue_table(counts, workers))
    typer.echo(f"\n{len(workers)} live worker(s)")
    for line in worker_lines(workers):
        typer.echo(line)


def queue_table(counts: dict[str, QueueCounts], workers: list[WorkerInfo]) -> str:
    served = {q for w in workers for q in w.queues}
    # jobs waiting for others (depends_on): a column only while some queue has them
    deferred = any(c.deferred for c in counts.values())
    lines = [f"{'queue':<24}{'queued':>9}{'scheduled':>11}{'started':>9}{'failed':>8}"
             f"{'finished':>10}{'retried':>9}{'deferred' if deferred else '':>{10 * deferred}}"
             f"{'oldest':>8}"]
    for name, c in counts.items():
        note = "" if name in served else "   (no live worker serves it)"
        shown = f"{c.deferred:>10}" if deferred else ""
        lines.append(f"{name:<24}{c.queued:>9}{c.scheduled:>11}{c.started:>9}{c.failed:>8}"
                     f"{c.finished:>10}{c.retried:>9}{shown}"
                     f"{format_age(c.oldest_queued_age):>8}{note}")
    if not counts:
        lines.append("(no queues)")
    return "\n".join(lines)


def worker_lines(workers: list[WorkerInfo]) -> list[str]:
    lines = []
    by_supervisor: dict[str, list[WorkerInfo]] = {}  # "": not supervised
    for w in workers:
        by_supervisor.setdefault(w.supervisor or "", []).append(w)
    for supervisor, members in sorted(by_supervisor.items()):
        indent = "  "
        if supervisor:
            supervisor_name, _, supervisor_pid = supervisor.rpartition(":")
            lines.append(f"  supervisor {supervisor_name}  host={members[0].host} "
                         f"pid={supervisor_pid}: {len(members)} worker(s)")
            indent = "    "
            members.sort(key=lambda w: (len(w.name), w.name))  # NAME.2 before NAME.10
        for w in members:
            flags = ""
            if w.stale:
                flags += "  STALE (no heartbeat for longer than it should take)"
            if w.sharing_name > 1:
                flags += f"  WARNING: {w.sharing_name} live processes share this name"
            lines.append(f"{indent}{w.name}  host={w.host} pid={w.pid} "
                         f"queues={','.join(w.queues)} concurrency={w.concurrency} "
                         f"in_flight={w.in_flight} processed={w.processed} failed={w.failed} "
                         f"heartbeat={format_age(w.heartbeat_age)} ago{flags}")
    return lines
