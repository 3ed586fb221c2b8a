"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a
real Redis with real workers: every page opens, every action works, live updates
arrive by push and pause while the tab is hidden, job data stays text, and the pages
work across the primaries of a Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from aqueue import AsyncQueue, Worker
from aqueue.dashboard import dashboard
from tests import dashboard_tasks as t
from tests.dashboard_browser import chromium, new_page, serve
from tests.servers.cluster import RedisCluster
from tests.test_cli import ROOT, wait_until_registered

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]
IMPORTS = ["tests.tasks", "tests.dashboard_tasks"]


@contextlib.asynccontextmanager
async def opened(url: str, path: str = "/", **options: Any
                 ) -> AsyncIterator[tuple[Page, list[str], str]]:
    """The dashboard for ``url`` served and opened at ``path``: (page, dialogs and page
    errors seen, base URL)."""
    app = dashboard(url, interval=0.2, **options)
    async with serve(app) as base, chromium() as browser:
        page, events = await new_page(browser)
        await page.goto(base + path)
        await expect(page.locator("#live")).to_have_text("live")
        yield page, events, base


@contextlib.asynccontextmanager
async def worker(url: str, *queues: str, **options: Any) -> AsyncIterator[Worker]:
    w = Worker(list(queues), url=url, imports=IMPORTS, grace=0, **options)
    task = asyncio.create_task(w.run(install_signal_handlers=False))
    await w.started.wait()
    try:
        yield w
    finally:
        w.stop_now()
        await asyncio.wait_for(task, 15)


async def started(queue: AsyncQueue, count: int = 1) -> None:
    for _ in range(500):
        if len(await queue.started_job_ids()) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} job(s) of {queue.name} did not start")


async def test_every_page_opens_with_its_data(queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue(t.send_email, "a@example.com", subject="Welcome")
    failing = await queue.enqueue(t.charge, "cus_9", 50_000)
    await queue.enqueue_in(3600, t.send_email, "later@example.com")
    async with worker(redis_url, queue.name, burst=True):
        pass
    running = await queue.enqueue(t.render_report, 7)
    async with worker(redis_url, queue.name, name="w-pages"), \
            opened(redis_url) as (page, events, base):
        await started(queue)
        await expect(page.locator(f'#queues tr[data-queue="{queue.name}"]')).to_be_visible()
        await expect(page.locator('[data-card="failed"] .v')).to_have_text("1")
        await page.click('a[data-span="24h"]')
        await expect(page.locator("#chart-title")).to_have_text("Throughput, last 24 hours")
        await expect(page.locator("#servers")).to_contain_text("noeviction")
        await page.goto(f"{base}/queues/{queue.name}?state=failed")
        await expect(page.locator("#jobs tbody tr")).to_have_count(1)
        await page.goto(f"{base}/queues/{queue.name}/jobs/{failing.id}")
        await expect(page.locator("#traceback")).to_contain_text("declined for 50000 cents")
        await page.click('a[data-search="0=cus_9"]')  # the other failed jobs of that customer
        await expect(page.locator(f'#jobs tr[data-job="{failing.id}"]')).to_be_visible()
        await page.goto(f"{base}/queues/{queue.name}/jobs/{running.id}")
        await expect(page.locator("#job")).to_contain_text("Running")
        await page.goto(f"{base}/workers")
        await expect(page.locator('[data-worker="w-pages"] tr[data-job]')).to_have_count(1)
        for state, count in (("failed", 1), ("scheduled", 1)):
            await page.goto(f"{base}/states/{state}")
            await expect(page.locator("#jobs tbody tr[data-job]")).to_have_count(count)
        await expect(page.locator("#live")).to_have_text("live")
    assert events == []


async def test_a_job_enqueued_while_the_page_is_open_shows_without_a_reload(
    queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(t.send_email, "first@example.com")
    async with opened(redis_url, f"/queues/{queue.name}") as (page, _, _base):
        await page.evaluate("window.notReloaded = true")
        count = page.locator('[data-count="queued"]')
        await expect(count).to_have_text("1")
        job = await queue.enqueue(t.send_email, "second@example.com")
        await expect(count).to_have_text("2")
        await expect(page.locator(f'tr[data-job="{job.id}"]')).to_be_visible()
        assert await page.evaluate("window.notReloaded") is True


async def test_live_updates_pause_while_the_tab_is_hidden(
    queue: AsyncQueue, redis_url: str
) -> None:
    async with opened(redis_url, f"/queues/{queue.name}") as (page, _, _base):
        await page.evaluate("""() => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""")
        await expect(page.locator("#live")).to_have_text("paused")
        await queue.enqueue(t.send_email, "while-hidden@example.com")
        await asyncio.sleep(0.8)  # four update intervals: nothing may arrive
        await expect(page.locator('[data-count="queued"]')).to_have_text("0")
        await page.evaluate("""() => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
            document.dispatchEvent(new Event("visibilitychange"));
        }""")
        await expect(page.locator('[data-count="queued"]')).to_have_text("1")


async def test_selected_jobs_are_requeued_deleted_and_canceled_from_the_page(
    queue: AsyncQueue, redis_url: str
) -> None:
    failed = [await queue.enqueue(t.charge, f"cus_{i}", 20_000) for i in range(3)]
    async with worker(redis_url, queue.name, burst=True):
        pass
    waiting = await queue.enqueue(t.send_email, "cancel@example.com")
    async with opened(redis_url, f"/queues/{queue.name}?state=failed") as (page, events, base):
        await page.check(f'input[data-id="{failed[0].id}"]')
        await page.click('button[data-action="requeue"]')
        await expect(page.locator('[data-count="failed"]')).to_have_text("2")
        await page.check(f'input[data-id="{failed[1].id}"]')
        await page.click('button[data-action="delete"]')
        await expect(page.locator('[data-count="failed"]')).to_have_text("1")
        await page.goto(f"{base}/queues/{queue.name}?state=queued")
        await page.check(f'input[data-id="{waiting.id}"]')
        await page.click('button[data-action="cancel"]')
        await expect(page.locator('[data-count="canceled"]')).to_have_text("1")
    counts = await queue.counts()
    assert (counts.failed, counts.queued, counts.canceled) == (1, 1, 1)
    assert [e.split(":")[0] for e in events] == ["confirm"]  # deleting asks first


async def test_the_deferred_tab_lists_a_waiting_child_and_cancels_it(
    queue: AsyncQueue, redis_url: str, tmp_path: Path
) -> None:
    parent = await queue.enqueue(t.render_report, 1)
    child = await queue.enqueue(t.send_email, "later@example.com", depends_on=parent)
    async with opened(redis_url, f"/queues/{queue.name}?state=deferred") as (page, events, _):
        await expect(page.locator('[data-count="deferred"]')).to_have_text("1")
        await expect(page.locator(f'tr[data-job="{child.id}"]')).to_be_visible()
        await page.screenshot(path=str(tmp_path / "deferred.png"), full_page=True)
        await page.check(f'input[data-id="{child.id}"]')
        await page.click('button[data-action="cancel"]')
        await expect(page.locator('[data-count="canceled"]')).to_have_text("1")
        await expect(page.locator('[data-count="deferred"]')).to_have_text("0")
    counts = await queue.counts()
    assert (counts.deferred, counts.canceled, counts.queued) == (0, 1, 1)
    assert events == []


async def test_an_action_on_all_matching_jobs_shows_its_progress_to_the_end(
    queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue_many([queue.prepare(t.send_email, f"u{i}@example.com",
                                            subject="Spam" if i % 2 else "Hello")
                              for i in range(3000)])
    path = f"/queues/{queue.name}?state=queued&q=subject%3DSpam"
    async with opened(redis_url, path) as (page, _, _base):
        await page.click('button[data-action-all="cancel"]')
        await expect(page.locator("#progress")).to_contain_text(
            "done: 1,500 of 1,500 job(s) changed", timeout=30_000)
        await expect(page.locator('[data-count="queued"]')).to_have_text("1,500")
    assert (await queue.counts()).canceled == 1500


async def test_search_by_argument_value_finds_the_jobs(queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue_many([queue.prepare(t.send_email, f"u{i}@example.com")
                              for i in range(200)])
    wanted = await queue.enqueue(t.send_email, "needle@example.com", subject="Hay")
    async with opened(redis_url, f"/queues/{queue.name}") as (page, _, _base):
        await page.click('button[data-index="on"]')  # turn the index on, backfilling it
        await expect(page.locator("#index-panel")).to_contain_text("on · 201 jobs")
        await page.fill("#q", "needle@example.com")
        await page.press("#q", "Enter")
        await expect(page.locator("#jobs tbody tr[data-job]")).to_have_count(1)
        await expect(page.locator(f'tr[data-job="{wanted.id}"]')).to_be_visible()
        await expect(page.locator("#search-hint")).to_contain_text("search index")


async def test_the_live_stack_of_a_running_job_comes_from_a_worker_process(
    queue: AsyncQueue, redis_url: str
) -> None:
    job = await queue.enqueue(t.wait_on_upstream, "order-42")
    process = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "worker", queue.name, "--url", redis_url,
         "--import", "tests.dashboard_tasks", "--name", "stack-worker", "--grace", "0"],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_until_registered(redis_url)
        await started(queue)
        async with opened(redis_url, "/workers") as (page, _, _base):
            await page.click(f'button[data-stack-for="{job.id}"]')
            stack = page.locator(f'pre[data-stack="{job.id}"]')
            await expect(stack).to_contain_text("in _poll_upstream")
            await expect(stack).to_contain_text("in wait_on_upstream")
    finally:
        process.terminate()
        process.wait(timeout=15)


async def test_arguments_with_markup_are_shown_as_text(queue: AsyncQueue, redis_url: str) -> None:
    xss = "<script>alert('owned')</script><img src=x onerror=alert(2)>"
    job = await queue.enqueue(t.send_email, xss, subject=xss)
    async with opened(redis_url, f"/queues/{queue.name}") as (page, events, base):
        await expect(page.locator(f'tr[data-job="{job.id}"] .args')).to_contain_text(xss)
        await page.goto(f"{base}/queues/{queue.name}/jobs/{job.id}")
        await expect(page.locator("#args")).to_contain_text(xss)
        assert await page.locator("#main img, #main script").count() == 0
    assert events == []


async def test_a_read_only_dashboard_offers_no_action(queue: AsyncQueue, redis_url: str) -> None:
    await queue.enqueue(t.send_email, "a@example.com")
    async with opened(redis_url, f"/queues/{queue.name}", read_only=True) as (page, _, _b):
        await expect(page.locator("#toolbar")).to_have_text("read-only: actions are disabled")
        assert await page.locator("button[data-action], input[data-id]").count() == 0


async def test_the_pages_show_and_update_queues_on_every_primary_of_a_cluster(
    fresh_redis_cluster: RedisCluster
) -> None:
    names = fresh_redis_cluster.names_on_distinct_primaries(3, prefix="dash-")
    url = "redis+cluster://" + fresh_redis_cluster.startup_url.split("://")[1].split("/")[0]
    queues = [AsyncQueue(n, url=url) for n in names]
    try:
        for q in queues:
            await q.enqueue(t.send_email, f"{q.name}@example.com")
        async with worker(url, *names, name="cluster-w"), opened(url) as (page, events, base):
            for name in names:
                await expect(page.locator(f'#queues tr[data-queue="{name}"]')).to_be_visible()
            await page.goto(f"{base}/queues/{names[2]}?state=finished")
            await expect(page.locator('[data-count="finished"]')).to_have_text("1")
            await queues[2].enqueue(t.send_email, "again@example.com")
            await expect(page.locator('[data-count="finished"]')).to_have_text("2")
            await page.goto(f"{base}/workers")
            await expect(page.locator('[data-worker="cluster-w"]')).to_contain_text(names[1])
        assert events == []
    finally:
        for q in queues:
            await q.close()
