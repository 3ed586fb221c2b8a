"""Job data in log lines is bounded: a job with a 1 MB function name, id or error
message is logged in a line of sane length, cut with an ellipsis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import fault_jobs
from tests.chaos.harness import Chaos

pytestmark = pytest.mark.anyio

HUGE = 1_000_000
MAX_LINE = 2000
ELLIPSIS = "\u2026"


@pytest.mark.timeout(60)
async def test_log_lines_about_huge_job_data_are_bounded(tmp_path: Path) -> None:
    huge_func = "tests.chaos.fault_jobs." + "f" * HUGE
    huge_id = "i" * HUGE
    with Chaos(tmp_path) as chaos:
        async with chaos.queue() as queue:
            await queue.enqueue(huge_func, job_id="huge-func")
            # aqueue's producers refuse such an id: write the job as another producer might
            with chaos.client() as r:
                r.hset(chaos.keys.job(huge_id), mapping={
                    "func": "tests.chaos.fault_jobs.fail_with", "args": '["huge-id", 10]',
                    "kwargs": "{}", "status": "queued"})
                r.rpush(chaos.keys.queued, huge_id)
            await queue.enqueue(fault_jobs.fail_with, "huge-message", HUGE,
                                job_id="huge-message")
            worker = chaos.spawn(imports=["tests.chaos.fault_jobs"], extra_args=["--burst"])
            code = await chaos.wait_exit(worker, 30)
        assert code == 0, worker.tail(10)[:5000]
        for job_id, exc_type in (("huge-func", "FunctionNotAllowed"), (huge_id, "ValueError"),
                                 ("huge-message", "ValueError")):
            assert chaos.job_hash(job_id).get("exc_type") == exc_type, job_id[:20]
        lines = worker.log().splitlines()
        longest = max(len(line) for line in lines)
        print(f"longest log line: {longest:,} characters")
        assert longest <= MAX_LINE, (
            f"a log line of {longest:,} characters: {max(lines, key=len)[:300]}...")
        failures = [line for line in lines if "failed" in line and "ERROR" in line]
        assert len(failures) == 3, "\n".join(line[:200] for line in failures)
        assert all(ELLIPSIS in line for line in failures), (
            "\n".join(line[:200] for line in failures))
