"""Bad data written straight into Redis, interleaved with good jobs: each bad job fails
with a clear error on its hash, the workers keep claiming, and every good job finishes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from aqueue import AsyncQueue
from tests.chaos import jobs
from tests.chaos.harness import Chaos, prepare_work

pytestmark = pytest.mark.anyio

CONCURRENCY = 4
HUGE = 6 * 1024 * 1024


@dataclass(frozen=True)
class BadJob:
    """A job hash written by hand (``fields`` None: an id queued without any hash)."""

    id: str
    fields: dict[bytes | str, bytes | str] | None
    exc_type: str
    message: str  # a part of the expected exc_message


def _good_fields(**changes: bytes | str) -> dict[bytes | str, bytes | str]:
    fields: dict[bytes | str, bytes | str] = {
        "func": "tests.chaos.jobs.work", "args": '["x", 1, 1]', "kwargs": "{}",
        "status": "queued", "queue": "chaos", "timeout": "60", "result_ttl": "500",
        "failure_ttl": "-1", "enqueued_at": "1700000000.0",
    }
    fields.update(changes)
    return fields


BAD_JOBS = [
    BadJob("bad-garbage", {b"\x00\xff": b"\xfe\x00", "zz": "?" * 100}, "InvalidJob",
           "no 'func' field"),
    BadJob("bad-no-func", {"args": "[1]", "kwargs": "{}", "status": "queued"}, "InvalidJob",
           "no 'func' field"),
    BadJob("bad-ghost", None, "InvalidJob", "no 'func' field"),
    BadJob("bad-unknown-func", _good_fields(func="tests.chaos.jobs.no_such_function"),
           "FunctionNotAllowed", "has no 'no_such_function'"),
    BadJob("bad-foreign-func", _good_fields(func="os.system", args='["true"]'),
           "FunctionNotAllowed", "not in a module this worker was told to import"),
    BadJob("bad-args-bytes", _good_fields(args=b"\x80\x81\xfe not json"), "InvalidPayload",
           "arguments cannot be decoded"),
    BadJob("bad-args-shape", _good_fields(args='{"tag": "x"}'), "InvalidPayload",
           "expected a list and a dict"),
    BadJob("bad-kwargs", _good_fields(kwargs="[[["), "InvalidPayload",
           "arguments cannot be decoded"),
    BadJob("bad-arity", _good_fields(args='["x"]'), "TypeError", "missing 2 required"),
    BadJob("bad-huge-args", _good_fields(args=b"[" + b"\xff" * HUGE), "InvalidPayload",
           "arguments cannot be decoded"),
    BadJob("bad-attempts", _good_fields(attempts="many"), "InvalidJob",
           "'attempts' is not a number"),
    BadJob("bad-timeout", _good_fields(timeout="soon"), "InvalidJob",
           "'timeout' is not a number"),
    BadJob("bad-retry", _good_fields(retry="{not json"), "InvalidJob",
           "'retry' is not a retry policy"),
]


def _inject(chaos: Chaos, bad: BadJob) -> None:
    with chaos.client() as r:
        if bad.fields is not None:
            r.hset(chaos.keys.job(bad.id), mapping=bad.fields)
        r.rpush(chaos.keys.queued, bad.id)


async def _probe_every_worker(chaos: Chaos, queue: AsyncQueue, n_workers: int) -> set[int]:
    """Enqueue enough 1 s jobs to fill every worker's slots at once; returns the pids that
    started them (a worker that stopped claiming is missing)."""
    tags = [f"probe-{i}" for i in range(n_workers * CONCURRENCY)]
    await queue.enqueue_many([queue.prepare(jobs.work, tag, 1000, i, job_id=tag)
                              for i, tag in enumerate(tags)])
    await chaos.settle(lambda: all(chaos.runs(tags).values()), 4)
    return {run.pid for runs in chaos.runs(tags).values() for run in runs}


async def _run_with_bad_jobs(
    chaos: Chaos, bad_jobs: list[BadJob], step: int | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Queue good jobs and ``bad_jobs`` interleaved (one bad job every ``step`` good ones;
    by default spread evenly), then start two workers and let them work; returns the
    expected values of the good jobs (probes included), and problems with the workers
    (dead, or no longer claiming)."""
    rng = random.Random(7)
    async with chaos.queue() as queue:
        prepared, expected = prepare_work(queue, 160, rng, min_ms=5, max_ms=20)
        step = step or len(prepared) // (len(bad_jobs) + 1)
        for i, bad in enumerate(bad_jobs):
            await queue.enqueue_many(prepared[i * step:(i + 1) * step])
            _inject(chaos, bad)
        await queue.enqueue_many(prepared[len(bad_jobs) * step:])
        huge = "y" * HUGE
        await queue.enqueue(jobs.measure, "good-huge", huge, job_id="good-huge")
        expected["good-huge"] = len(huge)

        workers = [chaos.spawn(concurrency=CONCURRENCY, lease=2.0) for _ in range(2)]
        for worker in workers:
            await chaos.wait_ready(worker)
        n_good = len(expected)
        await chaos.settle(lambda: chaos.finished_count() >= n_good, 8)
        probed = await _probe_every_worker(chaos, queue, len(workers))
        expected.update({f"probe-{i}": jobs.expected_value(i)
                         for i in range(len(workers) * CONCURRENCY)})
        await chaos.settle(lambda: chaos.finished_count() >= len(expected), 3)
        problems = [f"worker {w.name} died" for w in workers if not w.alive()]
        problems += [f"worker {w.name} stopped claiming jobs after the bad input (it started "
                     "none of the probe jobs that filled every worker's slots)"
                     for w in workers if w.alive() and w.pid not in probed]
        return expected, problems


@pytest.mark.timeout(90)
async def test_bad_job_hashes_fail_clearly(tmp_path: Path) -> None:
    """Thirteen kinds of bad job hash among 160 good jobs and one with a 6 MB argument:
    each bad one fails with the expected exc_type and a short message naming the problem,
    a worker logs it, and everything else finishes."""
    with Chaos(tmp_path) as chaos:
        expected, worker_problems = await _run_with_bad_jobs(chaos, BAD_JOBS)
        verdict = chaos.verify(expected, failed=[bad.id for bad in BAD_JOBS])
        problems = verdict.problems
        problems += worker_problems
        for bad in BAD_JOBS:
            fields = chaos.job_hash(bad.id)
            message = fields.get("exc_message", "")
            if (fields.get("status") != "failed" or fields.get("exc_type") != bad.exc_type
                    or bad.message not in message or len(message) > 1000):
                problems.append(f"{bad.id}: status {fields.get('status')!r}, exc_type "
                                f"{fields.get('exc_type')!r}, exc_message {message[:300]!r} "
                                f"({len(message)} chars); expected failed, {bad.exc_type}, "
                                f"containing {bad.message!r}")
            if not any(bad.id in w.log() for w in chaos.workers):
                problems.append(f"{bad.id}: no worker logged its failure")
        chaos.assert_verdict(verdict, f"{len(BAD_JOBS)} bad jobs injected")


@pytest.mark.timeout(60)
async def test_job_key_of_another_type(tmp_path: Path) -> None:
    """A queued id whose job key is not a hash (a string), so the claim script cannot read
    it. Expected: it ends in the failed registry and a worker logs its id; the good jobs
    claimed in the same batch still run, and the worker keeps claiming."""
    with Chaos(tmp_path) as chaos:
        with chaos.client() as r:
            r.set(chaos.keys.job("bad-not-a-hash"), "garbage")
        bad = BadJob("bad-not-a-hash", None, "", "")
        # Second in the queue: the first claim (4 slots) takes it with three good jobs.
        expected, worker_problems = await _run_with_bad_jobs(chaos, [bad], step=1)
        verdict = chaos.verify(expected, failed=[bad.id])
        verdict.problems += worker_problems
        if not any(bad.id in w.log() for w in chaos.workers):
            verdict.problems.append(f"{bad.id}: no worker logged anything about it")
        chaos.assert_verdict(verdict, "one job key of type string among good jobs")


@pytest.mark.timeout(60)
async def test_result_ttl_out_of_range(tmp_path: Path) -> None:
    """A job whose ``result_ttl`` parses as a number but is beyond what Redis' EXPIRE
    takes: it may finish (kept) or fail clearly, but must not stop the worker recording
    the other jobs' results."""
    bad = BadJob("bad-result-ttl", _good_fields(args='["bad-result-ttl", 1, 1]',
                                                result_ttl="1e30"), "", "")
    with Chaos(tmp_path) as chaos:
        expected, worker_problems = await _run_with_bad_jobs(chaos, [bad], step=1)
        fields = chaos.job_hash(bad.id)
        if fields.get("status") == "finished":
            expected[bad.id] = jobs.expected_value(1)
            verdict = chaos.verify(expected)
        else:
            verdict = chaos.verify(expected, failed=[bad.id])
            if fields.get("status") != "failed" or "result_ttl" not in fields.get(
                    "exc_message", ""):
                verdict.problems.append(
                    f"{bad.id}: status {fields.get('status')!r}, exc_type "
                    f"{fields.get('exc_type')!r}, exc_message {fields.get('exc_message')!r}; "
                    "expected finished, or failed naming result_ttl")
        verdict.problems += worker_problems
        chaos.assert_verdict(verdict, "one job with result_ttl=1e30 among good jobs")
