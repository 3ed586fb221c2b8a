"""Schedules: declared in code or at runtime, enqueued once per tick however many workers
run them, across daylight-saving changes, and controlled at runtime."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from aqueue import AsyncQueue, JobStatus, Queue
from aqueue.cron import CronJob
from aqueue.cron.plugin import CronPlugin
from aqueue.schedules import Misfire
from aqueue.store.keys import QueueKeys
from aqueue.store.store import Store
from tests import flow_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def run_clock(redis_url: str, job: CronJob, start: datetime, end: datetime,
                    step: timedelta = timedelta(seconds=60)) -> list[datetime]:
    """Drive a cron plugin with a fake clock from ``start`` to ``end``; the ticks it ran."""
    clock = FakeClock(start)
    plugin = CronPlugin([job], clock=clock)
    store = Store.open(redis_url)
    try:
        await plugin.register(store)
        while clock.now < end:
            clock.now += step
            await plugin.tick(store, [QueueKeys.for_queue(job.queue)])
    finally:
        await store.close()
    return [datetime.fromtimestamp(float(i.rsplit(".", 1)[-1] if i.count(".") == 2 else
                                         i.split(".", 2)[2]), UTC) for i in plugin.enqueued]


async def test_a_wall_clock_job_runs_once_when_the_clocks_spring_forward_over_it(
        redis_url: str) -> None:
    job = CronJob("nightly", flow_tasks.note, "30 2 * * *", args=["n"], queue="dst",
                  timezone="Europe/Berlin")
    ran = await run_clock(redis_url, job, datetime(2025, 3, 29, 22, tzinfo=UTC),
                          datetime(2025, 3, 30, 4, tzinfo=UTC))
    # 02:30 does not exist on 30 March in Berlin: it runs at 03:00 CEST, 01:00 UTC
    assert ran == [datetime(2025, 3, 30, 1, 0, tzinfo=UTC)]


async def test_a_wall_clock_job_runs_once_when_the_clocks_fall_back_over_it(
        redis_url: str) -> None:
    job = CronJob("nightly", flow_tasks.note, "30 2 * * *", args=["n"], queue="dst",
                  timezone="Europe/Berlin")
    ran = await run_clock(redis_url, job, datetime(2025, 10, 25, 22, tzinfo=UTC),
                          datetime(2025, 10, 26, 4, tzinfo=UTC))
    assert ran == [datetime(2025, 10, 26, 0, 30, tzinfo=UTC)]  # the first 02:30 (CEST)


async def test_an_hourly_job_runs_every_real_hour_across_the_fall_back_day(
        redis_url: str) -> None:
    job = CronJob("hourly", flow_tasks.note, "0 * * * *", args=["h"], queue="dst",
                  timezone="Europe/Berlin")
    ran = await run_clock(redis_url, job, datetime(2025, 10, 25, 22, 30, tzinfo=UTC),
                          datetime(2025, 10, 26, 22, 30, tzinfo=UTC), timedelta(minutes=10))
    # 25 local hours, 24 real ones: one run each, none doubled (each found late, within
    # 10 minutes: run_once runs that one tick)
    assert len(ran) == 24 and len(set(ran)) == 24


async def test_missed_ticks_follow_the_misfire_policy(redis_url: str) -> None:
    job = CronJob("catchup", flow_tasks.note, "*/10 * * * *", args=["c"], queue="dst",
                  misfire=Misfire.catch_up(3))
    # one step of an hour: five ticks were missed, three are caught up, plus the on-time one
    ran = await run_clock(redis_url, job, datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC),
                          datetime(2025, 1, 1, 13, 0, 30, tzinfo=UTC), timedelta(hours=1))
    assert [t.minute for t in ran] == [10, 20, 30, 0]


async def test_a_limited_schedule_stops_after_its_runs(redis_url: str) -> None:
    job = CronJob("thrice", flow_tasks.note, 60, args=["t"], queue="dst", limit=3)
    ran = await run_clock(redis_url, job, datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
                          datetime(2025, 1, 1, 0, 10, tzinfo=UTC))
    assert len(ran) == 3


def test_a_bad_expression_or_timezone_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="schedule 'bad'"):
        CronJob("bad", flow_tasks.note, "61 * * * *")
    with pytest.raises((ValueError, TypeError), match="Mars/Olympus"):
        CronJob("bad", flow_tasks.note, "0 * * * *", timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="job_id"):
        CronJob("bad", flow_tasks.note, 60, options={"job_id": "x"})
    with pytest.raises(TypeError, match="positional"):
        CronJob("bad", flow_tasks.note, 60, args=[1, 2, 3])


async def test_five_worker_processes_enqueue_each_tick_exactly_once(redis_url: str) -> None:
    workers = [subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", "cron-five", "--url", redis_url,
         "--import", "tests.flow_tasks", "--cron", "tests.flow_cron:EVERY_SECOND"],
        cwd=ROOT, stderr=subprocess.DEVNULL) for _ in range(5)]
    try:
        async with AsyncQueue("cron-five", url=redis_url) as q:
            deadline = time.monotonic() + 30
            while not await q.schedules():
                assert time.monotonic() < deadline, "no worker registered the schedule"
                await asyncio.sleep(0.1)
            await asyncio.sleep(8)
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                w.wait(20)
            info = await q.get_schedule("every-second")
            counts = await q.counts()
        assert 6 <= info.runs <= 10
        # result_ttl=0: a second enqueue of a tick could not be told apart by its id, only
        # by running once more than the schedule counted
        assert counts.finished + counts.queued + counts.started == info.runs
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()


async def test_a_worker_declares_schedules_and_runs_them(
        redis_url: str, running_worker: WorkerFactory) -> None:
    flow_tasks.reset()
    job = CronJob("fast", flow_tasks.note, "* * * * * *", args=["fast"], queue="in-proc")
    async with running_worker("in-proc", imports=["tests.flow_tasks"], cron=[job]):
        await asyncio.sleep(2.5)
    assert 1 <= len(flow_tasks.started) <= 3


async def test_schedules_are_controlled_at_runtime(
        redis_url: str, running_worker: WorkerFactory) -> None:
    async with AsyncQueue("control", url=redis_url) as q:
        assert await q.add_schedule(CronJob("daily", flow_tasks.note, "@daily", args=["d"],
                                            queue="control")) == "new"
        [info] = await q.schedules()
        assert (info.name, info.func, info.paused, info.runs) == (
            "daily", "tests.flow_tasks.note", False, 0)
        assert len(info.next_runs) == 3 and info.next_runs[0].hour == 0
        assert info.last_run_at is None
        run = await q.trigger_schedule("daily")
        async with running_worker("control", imports=["tests.flow_tasks"]):
            assert await run.result(timeout=5) == "d"
        info = await q.get_schedule("daily")
        assert info.last_job == run.id and info.last_run_at is not None
        await q.pause_schedule("daily")
        assert (await q.get_schedule("daily")).paused
        assert (await q.get_schedule("daily")).next_runs == []
        await q.resume_schedule("daily")
        assert not (await q.get_schedule("daily")).paused
        await q.remove_schedule("daily")
        assert await q.schedules() == []
        with pytest.raises(Exception, match="no schedule 'daily'"):
            await q.pause_schedule("daily")


async def test_a_paused_schedule_enqueues_nothing(
        redis_url: str, running_worker: WorkerFactory) -> None:
    async with AsyncQueue("paused-cron", url=redis_url) as q:
        await q.add_schedule(CronJob("s", flow_tasks.note, "* * * * * *", args=["s"],
                                     queue="paused-cron"))
        await q.pause_schedule("s")
        async with running_worker("paused-cron", imports=["tests.flow_tasks"]):
            await asyncio.sleep(1.5)
        assert (await q.counts()).finished == 0


def test_the_sync_queue_lists_schedules(redis_url: str) -> None:
    with Queue("sync-cron", url=redis_url) as q:
        q.add_schedule(CronJob("s", flow_tasks.note, 3600, args=["s"], queue="sync-cron"))
        assert [s.name for s in q.schedules()] == ["s"]
        job = q.trigger_schedule("s")
        assert job.status is JobStatus.QUEUED
