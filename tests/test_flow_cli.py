"""``aqueue pause|resume|suspend|limits`` and ``aqueue cron ...``, run as a user runs them."""

from __future__ import annotations

import pytest

from aqueue import AsyncQueue
from aqueue.cron import CronJob
from tests import flow_tasks
from tests.test_cli import aqueue

pytestmark = pytest.mark.anyio


async def test_pause_resume_and_suspend_from_the_command_line(redis_url: str) -> None:
    async with AsyncQueue("cli-a", url=redis_url) as a, AsyncQueue("cli-b", url=redis_url) as b:
        await a.enqueue(flow_tasks.note, "a")
        await b.enqueue(flow_tasks.note, "b")
        done = aqueue("pause", "cli-a", "--url", redis_url)
        assert done.returncode == 0 and done.stdout == "cli-a: paused\n", done.stderr
        assert await a.is_paused() and not await b.is_paused()
        done = aqueue("suspend", "--url", redis_url)
        assert done.stdout.splitlines() == ["cli-a: paused", "cli-b: paused"]
        assert await b.is_paused()
        done = aqueue("resume", "--url", redis_url)
        assert done.stdout.splitlines() == ["cli-a: resumed", "cli-b: resumed"]
        assert not await a.is_paused() and not await b.is_paused()


async def test_limits_are_shown_and_set_from_the_command_line(redis_url: str) -> None:
    done = aqueue("limits", "cli-l", "--rate", "10/s", "--key-concurrency", "2",
                  "--url", redis_url)
    assert done.stdout == "cli-l: rate 10/1s, per-key concurrency 2\n", done.stderr
    assert aqueue("limits", "cli-l", "--url", redis_url).stdout == done.stdout
    cleared = aqueue("limits", "cli-l", "--clear", "--url", redis_url)
    assert cleared.stdout == "cli-l: no limits\n"
    bad = aqueue("limits", "cli-l", "--rate", "fast", "--url", redis_url)
    assert bad.returncode == 2 and "cannot read the rate 'fast'" in bad.stderr


async def test_cron_list_pause_trigger_and_remove_from_the_command_line(
        redis_url: str) -> None:
    async with AsyncQueue("cli-cron", url=redis_url) as q:
        await q.add_schedule(CronJob("nightly", flow_tasks.note, "30 2 * * *", args=["n"],
                                     queue="cli-cron", timezone="Europe/Berlin"))
        listed = aqueue("cron", "list", "--url", redis_url)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == ("cli-cron/nightly  active  tests.flow_tasks.note  "
                            "at 02:30 every day (Europe/Berlin)")
        assert lines[1] == "  runs 0, last run never"
        assert lines[2].startswith("  next ") and lines[2].count("UTC") == 3
        paused = aqueue("cron", "pause", "nightly", "-q", "cli-cron", "--url", redis_url)
        assert paused.stdout == "cli-cron/nightly: paused\n"
        assert "paused" in aqueue("cron", "list", "cli-cron", "--url", redis_url).stdout
        triggered = aqueue("cron", "trigger", "nightly", "-q", "cli-cron", "--url", redis_url)
        assert triggered.stdout.startswith("cli-cron/nightly: enqueued cron.nightly.now.")
        assert (await q.counts()).queued == 1
        assert aqueue("cron", "remove", "nightly", "-q", "cli-cron",
                      "--url", redis_url).returncode == 0
        missing = aqueue("cron", "pause", "nightly", "-q", "cli-cron", "--url", redis_url)
        assert missing.returncode == 1
        assert "no schedule 'nightly' in queue 'cli-cron'" in missing.stderr


def test_worker_refuses_a_cron_spec_that_is_not_a_list_of_schedules(redis_url: str) -> None:
    done = aqueue("worker", "q", "--url", redis_url, "--import", "tests.flow_tasks",
                  "--cron", "tests.flow_cron:NOT_A_LIST")
    assert done.returncode == 2
    assert "--cron 'tests.flow_cron:NOT_A_LIST'" in done.stderr
    done = aqueue("worker", "q", "--url", redis_url, "--import", "tests.flow_tasks",
                  "--cron", "tests.flow_cron")
    assert done.returncode == 2 and "write MODULE:NAME" in done.stderr
