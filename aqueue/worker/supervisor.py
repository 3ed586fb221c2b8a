"""``aqueue worker --processes N``: one supervisor process keeping N worker processes running.

The supervisor starts each worker as ``python -m aqueue worker ...`` with the supervisor's
own arguments (minus ``--processes``), names them ``<name>.1`` ... ``<name>.N``, restarts
one that exits unexpectedly, and forwards SIGTERM and SIGINT to all of them. It never
imports the ``--import`` modules and never talks to Redis: its workers do.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger("aqueue.supervisor")

SUPERVISOR_ENV = "AQUEUE_SUPERVISOR"  # "<supervisor name>:<pid>", in each worker's environment
USAGE_ERROR = 2  # how `aqueue worker` exits for a bad option or an unimportable --import
FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
STABLE_RUN = 30.0  # a worker that ran this long is restarted after FIRST_RESTART_DELAY again
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_POLL = 0.05  # seconds between checks for exited workers
_OWN_OPTIONS = ("--processes", "--name")  # the supervisor's: each worker gets its own name
_PR_SET_PDEATHSIG = 1


def parse_processes(value: str) -> int:
    """``--processes``: a whole number of at least 1, or ``auto`` (one per CPU)."""
    if value.strip().lower() == "auto":
        return cpu_count()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"--processes must be a whole number of at least 1, or 'auto' (one "
                         f"per CPU); got {value!r}")
    return count


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def supervised_by() -> str:
    """``<name>:<pid>`` of the supervisor this worker process runs under, or ``""``."""
    return os.environ.get(SUPERVISOR_ENV, "")


def worker_arguments(argv: Sequence[str]) -> list[str]:
    """The arguments of ``aqueue worker`` (those after ``worker``) without ``--processes``,
    ``--name`` and their values. Options end at ``--``."""
    kept: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            kept += [arg, *args]
            break
        if arg in _OWN_OPTIONS:
            next(args, None)
        elif not arg.startswith(tuple(f"{option}=" for option in _OWN_OPTIONS)):
            kept.append(arg)
    return kept


def run_supervisor(argv: Sequence[str], *, processes: int, name: str | None = None,
                   burst: bool = False) -> int:
    """Run ``aqueue worker`` as ``processes`` worker processes under a supervisor, until
    it is signalled (or, with ``burst``, all have finished). ``argv``: the arguments after
    ``worker``. Returns the exit status."""
    return Supervisor(worker_arguments(argv), processes=processes, name=name, burst=burst).run()


@dataclass
class Child:
    """One worker slot. Its name stays the same across restarts."""

    name: str
    process: subprocess.Popen[bytes] | None = None
    pid: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    delay: float = FIRST_RESTART_DELAY
    done: bool = False
    clean: bool = True  # whether its last run ended as it should


class Supervisor:
    """Keeps ``processes`` workers running: ``python -m aqueue worker --name NAME.i ARGS``.

    One thread, one loop: it checks every ``EXIT_POLL`` seconds for workers that exited,
    restarts due and signals received (the signal handlers only record them).
    """

    def __init__(self, worker_args: Sequence[str], *, processes: int, name: str | None = None,
                 burst: bool = False) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.name = name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.worker_args = list(worker_args)
        self.burst = burst
        self.children = [Child(f"{self.name}.{i}") for i in range(1, processes + 1)]
        self.usage_error = False
        self.stopping = False
        self._received: list[signal.Signals] = []
        self._signals = 0
        self._forwarded: list[signal.Signals] = []
        self._env = {**os.environ, SUPERVISOR_ENV: f"{self.name}:{os.getpid()}"}
        self._preexec = _dies_with_parent()

    def command(self, child: Child) -> list[str]:
        return [sys.executable, "-m", "aqueue", "worker", "--name", child.name,
                *self.worker_args]

    def run(self) -> int:
        """Supervise until every worker has stopped; returns the exit status: 0 after a
        clean stop, 1 if a worker crashed while stopping, 2 for a worker's usage error."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            logger.info("supervisor %s (pid %d) starting %d worker processes%s", self.name,
                        os.getpid(), len(self.children), " in burst mode" if self.burst else "")
            for child in self.children:
                self._start(child)
            while not all(child.done for child in self.children):
                time.sleep(EXIT_POLL)
                while self._received:
                    self._on_stop_signal(self._received.pop(0))
                for child in self.children:
                    self._check(child)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        code = USAGE_ERROR if self.usage_error else 0 if all(c.clean for c in self.children) else 1
        logger.info("supervisor %s stopped: all %d workers have exited (status %d)", self.name,
                    len(self.children), code)
        return code

    def _start(self, child: Child) -> None:
        child.started_at = time.monotonic()
        child.restart_at = None
        try:
            child.process = subprocess.Popen(
                self.command(child), env=self._env, stdin=subprocess.DEVNULL,
                process_group=0,  # Ctrl-C reaches the supervisor only, which forwards it once
                preexec_fn=self._preexec)
        except (OSError, subprocess.SubprocessError) as exc:
            logger.error("cannot start worker %s: %s", child.name, exc)
            self._exited(child, None)
            return
        child.pid = child.process.pid
        logger.info("started worker %s (pid %d)", child.name, child.pid)

    def _check(self, child: Child) -> None:
        if child.process is not None:
            status = child.process.poll()
            if status is not None:
                child.process = None
                self._exited(child, status)
        elif child.restart_at is not None:
            if self.stopping:
                child.restart_at, child.done = None, True
            elif time.monotonic() >= child.restart_at:
                self._start(child)

    def _exited(self, child: Child, status: int | None) -> None:
        ran_for = time.monotonic() - child.started_at
        if self.stopping:
            child.done, child.clean = True, self._stopped_cleanly(child, status)
        elif status == USAGE_ERROR:
            logger.error("worker %s exited with status 2, a usage error (its message is "
                         "above: a bad --import module or option); not restarting it, "
                         "stopping the other workers", child.name)
            child.done, child.clean, self.usage_error = True, False, True
            self._stop(signal.SIGTERM)
        elif status == 0 and self.burst:
            logger.info("worker %s finished: no work left", child.name)
            child.done = True
        else:
            if ran_for >= STABLE_RUN:
                child.delay = FIRST_RESTART_DELAY
            what = (describe_exit(status) if status is None else
                    f"(pid {child.pid}) {describe_exit(status)} after {ran_for:.1f} s")
            logger.warning("worker %s %s; restarting it in %g s", child.name, what, child.delay)
            child.restart_at = time.monotonic() + child.delay
            child.delay = min(child.delay * 2, MAX_RESTART_DELAY)

    def _stopped_cleanly(self, child: Child, status: int | None) -> bool:
        # Killed by a forwarded signal: it came before the worker set up its handlers,
        # so it held no jobs.
        if status is None or status == 0 or -status in self._forwarded:
            return True
        logger.error("worker %s (pid %d) %s while stopping", child.name, child.pid,
                     describe_exit(status))
        return False

    def _on_signal(self, signum: int, frame: object) -> None:
        self._received.append(signal.Signals(signum))  # handled by the loop in run()

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        running = sum(1 for child in self.children if child.process is not None)
        if self._signals == 1:
            logger.info("%s: stopping %d workers (running jobs get --grace seconds to "
                        "finish); again to hand their jobs back at once", sig.name, running)
        else:
            logger.warning("%s again: %d workers hand their running jobs back", sig.name,
                           running)
        self._stop(sig)

    def _stop(self, sig: signal.Signals) -> None:
        self.stopping = True
        self._forwarded.append(sig)
        for child in self.children:
            if child.process is not None:
                with contextlib.suppress(ProcessLookupError):  # it has just exited
                    child.process.send_signal(sig)


def describe_exit(status: int | None) -> str:
    if status is None:
        return "could not be started"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, a hook run in each worker before exec: SIGTERM it (a graceful stop) if the
    supervisor dies, so that killing the supervisor leaves no orphaned workers.

    The kernel sends this signal each time the worker's parent *thread* exits, so the
    supervisor runs no other thread (asyncio's child watcher would start one per worker):
    otherwise a dying supervisor would send two SIGTERMs, and its workers would hand their
    jobs back instead of finishing them. No thread also makes ``preexec_fn`` safe."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
    except (OSError, AttributeError):
        return None
    supervisor = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != supervisor:  # it died before the prctl
            os._exit(1)

    return set_parent_death_signal
