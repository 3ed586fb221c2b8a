"""``aqueue worker``: run jobs from queues."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, run_async
from aqueue.cron.load import load_schedules
from aqueue.errors import AqueueError
from aqueue.store.urls import default_url
from aqueue.worker.executor import busy_job_threads
from aqueue.worker.supervisor import parse_processes, run_supervisor
from aqueue.worker.worker import DEFAULT_GRACE, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, Worker


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
    name: Annotated[str | None, typer.Option(help="Worker name (default host.pid.random); "
                                                  "with --processes, NAME.1 ... NAME.N.")]
        = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    cron: Annotated[list[str], typer.Option(
        "--cron", help="MODULE:NAME of a list of aqueue.cron.CronJob schedules this worker "
                       "declares (repeatable).")] = [],  # noqa: B006
    processes: Annotated[str | None, typer.Option(
        help="Run N worker processes under a supervisor that restarts them ('auto': one "
             "per CPU).", metavar="N|auto", show_default=False)] = None,
) -> None:
    """Run jobs from QUEUES."""
    if processes is not None:
        try:
            process_count = parse_processes(processes)
        except ValueError as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from None
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not imports:
        typer.secho("error: give at least one --import MODULE: a worker only runs functions "
                    "defined in modules its operator names", fg="red", err=True)
        raise typer.Exit(2)
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current folder can be imported
    if processes is not None:  # the workers, not this process, import the modules
        raise typer.Exit(run_supervisor(sys.argv[sys.argv.index("worker") + 1:],
                                        processes=process_count, name=name, burst=burst))
    try:
        w = Worker(queues, url=url or default_url(), imports=imports, concurrency=concurrency,
                   burst=burst, threads=threads, serializer=serializer, lease=lease, grace=grace,
                   max_deliveries=max_deliveries, name=name, cron=load_schedules(cron))
    except ImportError as exc:
        typer.secho(f"error: cannot import {exc.name or exc}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except (AqueueError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        run_async(w.run())
    finally:
        _exit_without_waiting_for_job_threads()


def _exit_without_waiting_for_job_threads() -> None:
    """A plain ``def`` job past its timeout, or handed back at shutdown, may still be running
    in a thread Python cannot stop; the job is already recorded or requeued, so do not let
    it hold the process (and a deploy) hostage."""
    stuck = busy_job_threads()
    if stuck:
        logging.getLogger("aqueue.worker").warning(
            "%d job thread(s) still running (plain def jobs past their timeout or handed "
            "back); exiting without waiting for them", stuck)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        code = sys.exc_info()[1]
        os._exit(code.exit_code if isinstance(code, typer.Exit) else 0)


