"""Job control on the command line: ``aqueue cancel``, and what ``aqueue job`` shows of a
job's meta, progress, callback error and attempts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from aqueue.cli.app import UrlOption, app, fail
from aqueue.job import Job


@app.command()
def cancel(
    queue: str,
    job_ids: Annotated[list[str], typer.Argument(help="Job ids: queued, scheduled or running.")],
    url: UrlOption = None,
) -> None:
    """Cancel jobs: queued and scheduled ones do not run; running ones are stopped."""
    from aqueue.cli.jobs import on_queue

    async def go(q: Any) -> int:
        return sum([await q.cancel(job_id) for job_id in job_ids])

    canceled = on_queue(queue, url, go)
    typer.echo(f"canceled {canceled} job(s) of {queue}")
    if canceled < len(job_ids):
        fail(f"{len(job_ids) - canceled} job(s) were not canceled: they had ended", 1)


def control_lines(job: Job[Any], when: Callable[[float | None], str]) -> list[str]:
    """The lines ``aqueue job`` adds for job control (none for a plain job)."""
    lines = []
    if job.meta:
        lines.append(f"  meta         {json.dumps(job.meta, ensure_ascii=False)[:2000]}")
    if job.progress is not None:
        lines.append(f"  progress     {job.progress}")
    if job.callback_error:
        lines.append(f"  callback     failed: {job.callback_error}")
    if len(job.attempt_history) > 1 or any(a.outcome not in ("finished", "running", "failed")
                                           for a in job.attempt_history):
        lines.append("  history")
        for number, attempt in enumerate(job.attempt_history, 1):
            error = f" {attempt.exc_type}: {attempt.exc_message}" if attempt.exc_type else ""
            lines.append(f"    {number:>2}. {attempt.outcome:<9} {when(attempt.started_at)} "
                         f"on {attempt.worker or '-'}{error}")
    return lines
