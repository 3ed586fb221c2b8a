"""``aqueue worker`` without typer: what the command does, and a strict parser for its
arguments, so that a worker process starts without importing typer and pydantic (about a
third of its start-up, which every restart and every ``--processes`` child pays).

``aqueue.cli.main`` uses ``parse`` first; anything it is not sure of (``--help``, an
unknown option, a value it would read differently) it leaves to the typer command, which
then parses and reports errors as usual. Both end in ``start_worker``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from aqueue.errors import AqueueError

if TYPE_CHECKING:
    from aqueue.worker.worker import Worker

T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_INT = re.compile(r"[0-9]+\Z")
_FLOAT = re.compile(r"[0-9]+(\.[0-9]*)?\Z")


def _int(text: str) -> int:
    if not _INT.match(text):
        raise ValueError(text)
    return int(text)


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    if not _FLOAT.match(text):
        raise ValueError(text)
    return float(text)


def _port(text: str) -> int:
    value = _int(text)
    if value > 65535:
        raise ValueError(text)
    return value


def _text(text: str) -> str:
    return text


# option -> (keyword, converter, repeatable); the defaults are start_worker's. Values it
# cannot read (a negative number, say) go to typer, whose errors say what is wrong.
_OPTIONS: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "--url": ("url", _text, False),
    "--concurrency": ("concurrency", _positive, False),
    "-c": ("concurrency", _positive, False),
    "--import": ("imports", _text, True),
    "-i": ("imports", _text, True),
    "--threads": ("threads", _int, False),
    "--serializer": ("serializer", _text, False),
    "--lease": ("lease", _float, False),
    "--grace": ("grace", _float, False),
    "--max-deliveries": ("max_deliveries", _int, False),
    "--name": ("name", _text, False),
    "--log-level": ("log_level", _text, False),
    "--processes": ("processes", _text, False),
    "--cron": ("cron", _text, True),
    "--metrics-port": ("metrics_port", _port, False),
    "--metrics-host": ("metrics_host", _text, False),
}
_FLAGS = {"--burst": ("burst", True), "--no-burst": ("burst", False),
          "--tracebacks": ("tracebacks", True), "--no-tracebacks": ("tracebacks", False),
          "--otel": ("otel", True)}


def parse(argv: Sequence[str]) -> dict[str, Any] | None:
    """``start_worker``'s keyword arguments from the arguments after ``worker``, or None
    when the typer command should handle them."""
    options: dict[str, Any] = {"queues": [], "imports": [], "cron": []}
    seen: set[str] = set()
    args = list(argv)
    i = 0
    try:
        while i < len(args):
            arg = args[i]
            i += 1
            if not arg.startswith("-"):
                options["queues"].append(arg)
                continue
            if arg in _FLAGS:
                keyword, flag = _FLAGS[arg]
                options[keyword] = flag
                continue
            name, equals, value = arg.partition("=")
            if name not in _OPTIONS or (equals and not name.startswith("--")):
                return None
            if not equals:
                if i >= len(args) or args[i].startswith("-"):
                    return None
                value = args[i]
                i += 1
            keyword, convert, repeatable = _OPTIONS[name]
            if repeatable:
                options[keyword].append(convert(value))
            elif keyword in seen:
                return None  # given twice: let typer decide which wins
            else:
                options[keyword] = convert(value)
                seen.add(keyword)
    except ValueError:
        return None
    if not options["queues"]:
        return None
    if "url" not in options and os.environ.get("AQUEUE_URL"):
        options["url"] = os.environ["AQUEUE_URL"]
    return options


def error(message: str, code: int) -> NoReturn:
    """One ``error:`` line on stderr, then exit with ``code`` (2: usage, 1: run time)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run with uvloop when it is installed; turn aqueue errors into one clear line."""
    import asyncio

    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    except AqueueError as exc:
        error(str(exc), 1)


def check_options(*, threads: int | None, grace: float | None, max_deliveries: int | None,
                  lease: float | None, log_level: str) -> None:
    """One line and exit code 2 for an option out of range, before anything starts."""
    if threads is not None and threads < 1:
        error(f"--threads must be at least 1, got {threads}", 2)
    if grace is not None and grace < 0:
        error(f"--grace must be 0 or more seconds, got {grace:g}", 2)
    if max_deliveries is not None and max_deliveries < 0:
        error(f"--max-deliveries must be 0 (no limit) or more, got {max_deliveries}", 2)
    if lease is not None and not lease > 0:
        error(f"--lease must be more than 0 seconds, got {lease:g}", 2)
    if log_level.upper() not in LOG_LEVELS:
        error(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}", 2)


def start_worker(queues: list[str], *, url: str | None = None, concurrency: int = 10,
                 imports: list[str] | None = None, burst: bool = False,
                 threads: int | None = None, serializer: str = "json",
                 lease: float | None = None, grace: float | None = None,
                 max_deliveries: int | None = None, name: str | None = None,
                 log_level: str = "INFO", tracebacks: bool = False,
                 cron: list[str] | None = None, processes: str | None = None,
                 metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
                 otel: bool = False) -> None:
    """Run a worker (or, with ``processes``, a supervisor of workers) until it stops;
    exits with 2 on a usage error, 1 on a failure at run time."""
    from aqueue.worker.supervisor import parse_processes, run_supervisor

    process_count = 0
    if processes is not None:
        try:
            process_count = parse_processes(processes)
        except ValueError as exc:
            error(str(exc), 2)
    check_options(threads=threads, grace=grace, max_deliveries=max_deliveries, lease=lease,
                  log_level=log_level)
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not imports:
        error("give at least one --import MODULE: a worker only runs functions defined in "
              "modules its operator names", 2)
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current folder can be imported
    if processes is not None:  # the workers, not this process, import the modules
        raise SystemExit(run_supervisor(sys.argv[sys.argv.index("worker") + 1:],
                                        processes=process_count, name=name, burst=burst))
    from aqueue.store.urls import default_url
    from aqueue.worker.worker import DEFAULT_GRACE, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, Worker

    try:
        schedules = []
        if cron:
            from aqueue.cron.load import load_schedules

            schedules = load_schedules(cron)
        w = Worker(queues, url=url or default_url(), imports=imports, concurrency=concurrency,
                   burst=burst, threads=threads, serializer=serializer,
                   lease=DEFAULT_LEASE if lease is None else lease,
                   grace=DEFAULT_GRACE if grace is None else grace,
                   max_deliveries=(DEFAULT_MAX_DELIVERIES if max_deliveries is None
                                   else max_deliveries), name=name,
                   log_tracebacks=tracebacks, cron=schedules)
        if otel:
            from aqueue.observe.tracing import instrument_worker

            instrument_worker(w)
    except (AqueueError, ValueError, TypeError) as exc:
        error(str(exc), 2)
    if metrics_port is not None:
        _serve_metrics(w, metrics_port, metrics_host)
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
            exc = sys.exc_info()[1]
            if isinstance(exc, AqueueError):
                print(f"error: {exc}", file=sys.stderr)
            _exit_now(1 if exc is not None else 0)


def _serve_metrics(w: Worker, port: int, host: str) -> None:
    """Attach metrics to the worker and serve them; under a supervisor, worker NAME.i
    takes port + i - 1, so that the processes do not compete for one port."""
    from aqueue.observe.metrics import WorkerMetrics
    from aqueue.worker.supervisor import supervised_by

    index = w.name.rsplit(".", 1)[-1]
    if port and supervised_by() and index.isdigit():
        port += int(index) - 1
    metrics = WorkerMetrics()
    metrics.attach(w)
    try:
        bound = metrics.serve(port, host)
    except OSError as exc:
        error(f"cannot serve metrics on {host}:{port}: {exc}", 1)
    logging.getLogger("aqueue.metrics").info("metrics on http://%s:%d/metrics", host, bound)


def _exit_without_waiting_for_job_threads() -> None:
    """A plain ``def`` job past its timeout, or handed back at shutdown, may still be running
    in a thread Python cannot stop; the job is already recorded or requeued, so do not let
    it hold the process (and a deploy) hostage."""
    from aqueue.worker.executor import busy_job_threads

    stuck = busy_job_threads()
    if stuck:
        logging.getLogger("aqueue.worker").warning(
            "%d job thread(s) still running (plain def jobs past their timeout or handed "
            "back); exiting without waiting for them", stuck)
        _exit_now(_exit_code(sys.exc_info()[1]))


def _exit_code(exc: BaseException | None) -> int:
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    code = getattr(exc, "exit_code", None)  # typer.Exit
    return code if isinstance(code, int) else 0


def _exit_now(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
