"""``aqueue demo``: thousands of jobs through a real worker process."""

from __future__ import annotations

from typing import Annotated

import typer

from aqueue.cli.app import app, run_async


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


