"""``aqueue worker``: run jobs from queues (the typer command; the work is in
``worker_start``, which also parses the usual arguments without typer)."""

from __future__ import annotations

from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app
from aqueue.cli.worker_start import start_worker
from aqueue.worker.worker import DEFAULT_GRACE, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES


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
    cron: Annotated[list[str], typer.Option(
        "--cron", help="MODULE:NAME of a list of aqueue.cron.CronJob schedules this worker "
                       "declares (repeatable).")] = [],  # noqa: B006
    processes: Annotated[str | None, typer.Option(
        help="Run N worker processes under a supervisor that restarts them ('auto': one "
             "per CPU).", metavar="N|auto", show_default=False)] = None,
    metrics_port: Annotated[int | None, typer.Option(
        min=0, max=65535, show_default=False,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port); with "
             "--processes, worker i serves on PORT+i-1.")] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for --metrics-port.")]
        = "127.0.0.1",
    otel: Annotated[bool, typer.Option(
        "--otel", help="OpenTelemetry spans for every run, in the trace of the code that "
                       "enqueued it (needs the otel extra and a configured SDK).")] = False,
) -> None:
    """Run jobs from QUEUES."""
    start_worker(queues, url=url, concurrency=concurrency, imports=imports, burst=burst,
                 threads=threads, serializer=serializer, lease=lease, grace=grace,
                 max_deliveries=max_deliveries, name=name, log_level=log_level,
                 tracebacks=tracebacks, cron=cron, processes=processes,
                 metrics_port=metrics_port, metrics_host=metrics_host, otel=otel)
