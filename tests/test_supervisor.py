"""``aqueue worker --processes N``: a supervisor process and its N worker processes, real
ones, on a private Redis. Jobs come from ``tests.chaos.jobs``, which record every execution
(with the pid that ran it) in a ledger: here, the same private Redis."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
import redis

from aqueue import AsyncQueue
from aqueue.worker.supervisor import cpu_count, parse_processes, worker_arguments
from tests.chaos import jobs
from tests.chaos.harness import Run, prepare_work
from tests.redis_servers import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
STARTED = re.compile(r"started worker (\S+) \(pid (\d+)\)")


class SupervisorProcess:
    """One ``python -m aqueue worker --processes ...`` process, logging to a file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def starts(self) -> list[tuple[str, int]]:
        """Every worker process it started: (name, pid), in order."""
        return [(name, int(pid)) for name, pid in STARTED.findall(self.log())]

    async def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"supervisor still running:\n{self.log()}"
            await anyio.sleep(0.02)
        return self.process.returncode


Supervise = Callable[..., SupervisorProcess]


@pytest.fixture
def supervise(redis_url: str, tmp_path: Path) -> Iterator[Supervise]:
    """``supervise(queue, *options)`` starts a supervisor of 2 workers named sup.1, sup.2;
    any still running at the end are stopped (their workers too)."""
    started: list[SupervisorProcess] = []

    def start(queue: str, *options: str, processes: str = "2") -> SupervisorProcess:
        log_path = tmp_path / f"supervisor-{len(started)}.log"
        env = {**os.environ, jobs.LEDGER_ENV: redis_url}
        env.pop("AQUEUE_URL", None)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "aqueue", "worker", queue, "--url", redis_url,
                 "--import", "tests.chaos.jobs", "--name", "sup", "--processes", processes,
                 *options],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        started.append(SupervisorProcess(process, log_path))
        return started[-1]

    yield start
    for supervisor in started:
        if supervisor.process.poll() is None:
            supervisor.process.send_signal(signal.SIGTERM)
            supervisor.process.send_signal(signal.SIGTERM)
            try:
                supervisor.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                supervisor.process.kill()
        for _, pid in supervisor.starts():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def registered(redis_url: str) -> dict[str, dict[str, str]]:
    """The live workers' registry hashes, by name."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        names = r.zrange("aq:{aq}:workers", 0, -1)
        return {name: r.hgetall(f"aq:{{aq}}:worker:{name}") for name in names}


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await anyio.sleep(0.05)


async def wait_registered(redis_url: str, names: set[str], timeout: float = 15) -> None:
    await wait_for(lambda: set(registered(redis_url)) == names, timeout, f"workers {names}")


def runs(redis_url: str, tags: list[str]) -> dict[str, list[Run]]:
    """Each job's starts from the ledger, in order."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        return {tag: [Run(int(pid), float(at)) for pid, at in
                      (entry.split() for entry in r.lrange(jobs.STARTS + tag, 0, -1))]
                for tag in tags}


def job_fields(redis_url: str, queue: AsyncQueue, job_id: str) -> dict[str, str]:
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        fields: dict[str, str] = r.hgetall(queue.keys.job(job_id))
        return fields


def finished(queue: AsyncQueue, redis_url: str) -> int:
    """The queue's count of finished jobs."""
    with redis.Redis.from_url(redis_url) as r:
        return int(r.hget(queue.keys.stats, "finished") or 0)


# -- the option ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_processes_must_be_a_positive_whole_number_or_auto(value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "aqueue", "worker", "q", "--import",
                           "tests.tasks", "--processes", value], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: --processes must be a whole number of at least 1, "
                                   f"or 'auto' (one per CPU); got {value!r}")


def test_auto_means_one_process_per_cpu() -> None:
    assert parse_processes("auto") == cpu_count() == len(os.sched_getaffinity(0))
    assert parse_processes("3") == 3


def test_workers_get_the_supervisors_arguments_without_processes_and_name() -> None:
    assert worker_arguments(["q", "--processes", "3", "-c", "5", "--name=x", "--name", "y",
                             "--processes=auto", "--burst", "--", "--name"]) == [
        "q", "-c", "5", "--burst", "--", "--name"]


# -- supervising ---------------------------------------------------------------------------


async def test_every_worker_serves_the_queue_and_reports_its_supervisor(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name, "--concurrency", "2", processes="3")
    await wait_registered(redis_url, {"sup.1", "sup.2", "sup.3"})
    prepared, _ = prepare_work(queue, 30, random.Random(1), min_ms=200, max_ms=200)
    await queue.enqueue_many(prepared)
    await wait_for(lambda: finished(queue, redis_url) == 30, 15, "30 jobs to finish")

    workers = registered(redis_url)
    pids = {name: int(w["pid"]) for name, w in workers.items()}
    assert {w["supervisor"] for w in workers.values()} == {f"sup:{supervisor.pid}"}
    assert sorted(supervisor.starts()) == sorted(pids.items())
    ran_by: dict[str, set[int]] = {}
    for job in prepared:
        fields = job_fields(redis_url, queue, job.id)
        name = ".".join(fields["token"].split(".")[:2])  # the token starts with NAME.
        ran_by.setdefault(name, set()).add(json.loads(fields["result"])["pid"])
    assert ran_by == {name: {pid} for name, pid in pids.items()}

    info = subprocess.run([sys.executable, "-m", "aqueue", "info", "--url", redis_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    lines = info.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("  supervisor sup "))
    assert lines[header].endswith(f"pid={supervisor.pid}: 3 worker(s)")
    assert [line.split()[:3] for line in lines[header + 1:header + 4]] == [
        [name, f"host={workers[name]['host']}", f"pid={pids[name]}"]
        for name in ("sup.1", "sup.2", "sup.3")]
    assert all(line.startswith("    sup.") for line in lines[header + 1:header + 4])


async def test_a_killed_worker_is_restarted_and_no_job_is_lost(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name, "--concurrency", "10", "--lease", "2",
                           "--max-deliveries", "0", processes="3")
    await wait_registered(redis_url, {"sup.1", "sup.2", "sup.3"})
    victim = int(registered(redis_url)["sup.2"]["pid"])
    prepared, expected = prepare_work(queue, 300, random.Random(2), min_ms=50, max_ms=150)
    await queue.enqueue_many(prepared)
    await wait_for(lambda: finished(queue, redis_url) >= 60, 15, "60 jobs to finish")
    os.kill(victim, signal.SIGKILL)

    await wait_for(lambda: registered(redis_url).get("sup.2", {}).get("pid") not in
                   (None, str(victim)), 10, "sup.2 to be restarted")
    await wait_for(lambda: finished(queue, redis_url) >= 300, 20, "all 300 jobs to finish")
    assert f"worker sup.2 (pid {victim}) was killed by SIGKILL" in supervisor.log()
    assert [name for name, _ in supervisor.starts()].count("sup.2") == 2
    assert set(registered(redis_url)) == {"sup.1", "sup.2", "sup.3"}

    tags = list(expected)
    started = runs(redis_url, tags)
    held_by_victim = set()
    for tag, value in expected.items():
        fields = job_fields(redis_url, queue, tag)
        assert fields["status"] == "finished", (tag, fields)
        result = json.loads(fields["result"])
        assert result["value"] == value, (tag, result)
        if any(run.pid == victim for run in started[tag]) and result["pid"] != victim:
            held_by_victim.add(tag)
    rerun = {tag for tag, starts in started.items() if len(starts) > 1}
    print(f"{len(held_by_victim)} jobs held by the killed worker, {len(rerun)} run twice")
    assert held_by_victim, "the killed worker was running no job: the test tested nothing"
    assert rerun == held_by_victim
    assert all([run.pid for run in started[tag]][:-1] == [victim] for tag in rerun)
    assert finished(queue, redis_url) == 300
    counts = await queue.counts()
    assert (counts.queued, counts.started, counts.scheduled, counts.failed) == (0, 0, 0, 0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_the_workers_after_their_running_jobs(
    queue: AsyncQueue, redis_url: str, supervise: Supervise, sig: signal.Signals
) -> None:
    supervisor = supervise(queue.name, "--concurrency", "2", "--grace", "10")
    await wait_registered(redis_url, {"sup.1", "sup.2"})
    tags = [f"job-{i}" for i in range(4)]
    for i, tag in enumerate(tags):
        await queue.enqueue(jobs.work, tag, 1500, i, job_id=tag)
    await wait_for(lambda: all(runs(redis_url, tags).values()), 10, "4 jobs to start")
    workers = [pid for _, pid in supervisor.starts()]

    supervisor.process.send_signal(sig)
    assert await supervisor.wait_exit(10) == 0, supervisor.log()
    assert supervisor.log().count(f"{sig.name}: finishing 2 running jobs") == 2
    assert finished(queue, redis_url) == 4
    assert all(len(starts) == 1 for starts in runs(redis_url, tags).values())
    assert not any(alive(pid) for pid in workers)
    assert registered(redis_url) == {}


async def test_a_second_sigterm_makes_the_workers_hand_their_jobs_back(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name, "--concurrency", "2", "--grace", "30")
    await wait_registered(redis_url, {"sup.1", "sup.2"})
    tags = [f"job-{i}" for i in range(4)]
    for i, tag in enumerate(tags):
        await queue.enqueue(jobs.work, tag, 20_000, i, job_id=tag)
    await wait_for(lambda: all(runs(redis_url, tags).values()), 10, "4 jobs to start")

    signalled = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    await anyio.sleep(0.3)
    supervisor.process.send_signal(signal.SIGTERM)
    assert await supervisor.wait_exit(10) == 0, supervisor.log()
    assert time.monotonic() - signalled < 5
    assert supervisor.log().count("SIGTERM again: handing 2 running jobs back") == 2
    assert sorted(await queue.queued_job_ids()) == tags


async def test_a_worker_killed_while_stopping_makes_the_supervisor_exit_1(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name, "--grace", "30")
    await wait_registered(redis_url, {"sup.1", "sup.2"})
    await queue.enqueue(jobs.work, "long", 20_000, 1, job_id="long")
    await wait_for(lambda: bool(runs(redis_url, ["long"])["long"]), 10, "the job to start")
    holder = runs(redis_url, ["long"])["long"][0].pid

    supervisor.process.send_signal(signal.SIGTERM)
    await wait_for(lambda: len(registered(redis_url)) == 1, 10, "the idle worker to stop")
    os.kill(holder, signal.SIGKILL)
    assert await supervisor.wait_exit(10) == 1, supervisor.log()
    assert f"(pid {holder}) was killed by SIGKILL while stopping" in supervisor.log()


async def test_workers_stop_gracefully_when_the_supervisor_is_killed(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name)
    await wait_registered(redis_url, {"sup.1", "sup.2"})
    workers = [pid for _, pid in supervisor.starts()]
    supervisor.process.kill()
    await wait_for(lambda: not any(alive(pid) for pid in workers), 10, "the workers to exit")
    assert supervisor.log().count("SIGTERM: finishing 0 running jobs") == 2
    assert "SIGTERM again" not in supervisor.log()  # one signal each: a graceful stop
    assert registered(redis_url) == {}


async def test_a_bad_import_stops_the_supervisor_with_status_2_and_no_restarts(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    supervisor = supervise(queue.name, "--import", "no_such_module")
    assert await supervisor.wait_exit(15) == 2
    log = supervisor.log()
    assert "error: cannot import --import module 'no_such_module'" in log
    assert "exited with status 2, a usage error" in log
    assert len(supervisor.starts()) == 2
    assert "restarting it in" not in log


async def test_a_worker_that_keeps_failing_is_restarted_ever_more_slowly(
    queue: AsyncQueue, supervise: Supervise
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: each worker exits 1
    supervisor = supervise(queue.name, "--url", closed, processes="1")
    await wait_for(lambda: "restarting it in 2 s" in supervisor.log(), 20, "a third restart")
    delays = re.findall(r"exited with status 1 after [\d.]+ s; restarting it in ([\d.]+) s",
                        supervisor.log())
    assert delays == ["0.5", "1", "2"]
    supervisor.process.send_signal(signal.SIGTERM)  # while it waits to restart: a clean stop
    assert await supervisor.wait_exit(5) == 0, supervisor.log()
    assert len(supervisor.starts()) == 3


async def test_in_burst_mode_the_supervisor_exits_when_the_queue_is_drained(
    queue: AsyncQueue, redis_url: str, supervise: Supervise
) -> None:
    prepared, _ = prepare_work(queue, 100, random.Random(3), min_ms=10, max_ms=30)
    await queue.enqueue_many(prepared)
    supervisor = supervise(queue.name, "--burst", processes="auto")
    assert await supervisor.wait_exit(30) == 0, supervisor.log()
    log = supervisor.log()
    assert finished(queue, redis_url) == 100
    assert f"starting {cpu_count()} worker processes in burst mode" in log
    assert log.count("finished: no work left") == cpu_count()
    assert "restarting it in" not in log
