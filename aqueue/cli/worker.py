"""``aqueue worker``: run jobs from queues."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
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
    tracebacks: Annotated[bool, typer.Option(help="Log the traceback of every failed job "
                                                  "(at DEBUG they are logged anyway).")]
        = False,
    processes: Annotated[str | None, typer.Option(
        help="Run N worker processes under a supervisor that restarts them ('auto': one "
             "per CPU).", metavar="N|auto", show_default=False)] = None,
) -> None:
    """Run jobs from QUEUES."""
    process_count = 0
    if processes is not None:
        try:
            process_count = parse_processes(processes)
        except ValueError as exc:
            fail(str(exc), 2)
    check_options(threads=threads, grace=grace, max_deliveries=max_deliveries, lease=lease,
                  log_level=log_level)
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not imports:
        fail("give at least one --import MODULE: a worker only runs functions defined in "
             "modules its operator names", 2)
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current folder can be imported
    if processes is not None:  # the workers, not this process, import the modules
        raise typer.Exit(run_supervisor(sys.argv[sys.argv.index("worker") + 1:],
                                        processes=process_count, name=name, burst=burst))
    try:
        w = Worker(queues, url=url or default_url(), imports=imports, concurrency=concurrency,
                   burst=burst, threads=threads, serializer=serializer, lease=lease, grace=grace,
                   max_deliveries=max_deliveries, name=name, log_tracebacks=tracebacks)
    except (AqueueError, ValueError, TypeError) as exc:
        fail(str(exc), 2)
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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_options(*, threads: int | None, grace: float, max_deliveries: int, lease: float,
                  log_level: str) -> None:
    """One line and exit code 2 for an option out of range, before anything starts."""
    if threads is not None and threads < 1:
        fail(f"--threads must be at least 1, got {threads}", 2)
    if grace < 0:
        fail(f"--grace must be 0 or more seconds, got {grace:g}", 2)
    if max_deliveries < 0:
        fail(f"--max-deliveries must be 0 (no limit) or more, got {max_deliveries}", 2)
    if not lease > 0:
        fail(f"--lease must be more than 0 seconds, got {lease:g}", 2)
    if log_level.upper() not in LOG_LEVELS:
        fail(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}", 2)


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


