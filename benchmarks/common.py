"""Shared orchestrator code: redis-server lifecycle, INFO snapshots, process CPU, stats.

Runs in the project venv (it only needs redis-py, which aqueue depends on).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
VENVS_DIR = ROOT / ".bench-venvs"
RESULTS_DIR = BENCH_DIR / "results"
RAW_DIR = RESULTS_DIR / "raw"  # git-ignored: per-run logs
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Snapshot:
    """Redis counters at one instant (INFO's own calls excluded from `cmds`)."""

    t: float
    cmds: int
    cpu: float  # used_cpu_sys + used_cpu_user, seconds
    mem: int  # used_memory - mem_clients_normal, bytes


REDIS_ARGS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes")


class RedisServer:
    """A throwaway `redis-server` on a free loopback port, no persistence."""

    def __init__(self, log_dir: Path) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_dir = log_dir
        self.client: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        for _ in range(5):
            self.port = free_port()
            log = open(self.log_dir / "redis-server.log", "ab")  # noqa: SIM115
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), *REDIS_ARGS],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            client = redis.Redis(host="127.0.0.1", port=self.port)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    client.ping()
                    self.client = client
                    return self
                except redis.ConnectionError:
                    time.sleep(0.02)
            self.stop()
        raise RuntimeError("could not start redis-server")

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(redis.RedisError):
                self.client.close()
            self.client = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def snapshot(self) -> Snapshot:
        assert self.client is not None
        stats: dict[str, Any] = self.client.info("commandstats")
        cmds = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")
        cpu_info: dict[str, Any] = self.client.info("cpu")
        mem: dict[str, Any] = self.client.info("memory")
        return Snapshot(
            t=time.monotonic(),
            cmds=cmds,
            cpu=float(cpu_info["used_cpu_sys"]) + float(cpu_info["used_cpu_user"]),
            # client buffers left over from the producer's connections are not job data
            mem=int(mem["used_memory"]) - int(mem.get("mem_clients_normal", 0)),
        )

    def version(self) -> str:
        assert self.client is not None
        return str(self.client.info("server")["redis_version"])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- process CPU ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_cpu(pids: Sequence[int]) -> float:
    """CPU seconds (user+sys) of the processes, their live descendants and reaped children."""
    kids = _children()
    total = 0
    todo = list(pids)
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[11..14] = utime, stime, cutime, cstime (stat fields 14-17)
        total += sum(int(x) for x in fields[11:15])
        todo.extend(kids.get(pid, []))
    return total / CLK_TCK


# --- worker processes ----------------------------------------------------------------------


def start_processes(
    argvs: Sequence[Sequence[str]], env: dict[str, str], log: Path
) -> list[subprocess.Popen[bytes]]:
    out = open(log, "ab")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            list(a),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        for a in argvs
    ]
    out.close()
    return procs


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM each process group we started, then SIGKILL what is left after `grace`."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.0, deadline - time.monotonic()))
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)  # also reaps forked children left behind
        if p.poll() is None:
            p.wait()


# --- driver protocol -----------------------------------------------------------------------


class DriverError(RuntimeError):
    pass


class Driver:
    """A driver script in a peer's venv. It prints JSON lines; `mark` events wait for an ack."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path, timeout: float) -> None:
        self.argv = list(argv)
        self.log = log
        self._err: IO[bytes] = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            bufsize=1,
        )
        self.deadline = time.monotonic() + timeout
        self._watchdog = threading.Timer(timeout, self.proc.kill)
        self._watchdog.daemon = True
        self._watchdog.start()

    def events(self) -> Iterator[dict[str, Any]]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if time.monotonic() > self.deadline:
                raise DriverError(f"driver timed out: {' '.join(self.argv)}")
            line = line.strip()
            if line.startswith("{"):
                yield json.loads(line)
        self.proc.wait()
        if self.proc.returncode:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise DriverError(f"driver exited {self.proc.returncode}: {tail}")

    def ack(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("ok\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        self._watchdog.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._err.close()


# --- stats ---------------------------------------------------------------------------------


def median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def per_job(value: float, n: int, scale: float = 1.0) -> float | None:
    return value / n * scale if n else None
