"""Screenshots of the dashboard's main pages, for docs/: ``python -m
tests.dashboard_screenshots docs/images``.

It runs a private redis-server, real workers (in this process) and the dashboard, with a
few queues of jobs in every state. The hour of history behind the charts is written as
the history plugin writes it (one sample a minute), since a screenshot cannot wait an
hour; everything else is what the workers and producers did.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from pathlib import Path

from aqueue import AsyncQueue, Retry, Worker
from aqueue.dashboard import dashboard
from tests import dashboard_tasks as t
from tests.dashboard_browser import chromium, serve
from tests.redis_servers import RedisServer

RUNNING: set[asyncio.Task[None]] = set()


async def fill(url: str) -> list[Worker]:
    email, billing, reports = (AsyncQueue(n, url=url) for n in ("email", "billing", "reports"))
    await email.enable_search_index()
    await email.enqueue_many([email.prepare(t.send_email, f"user{i}@example.com",
                                            subject=("Welcome", "Invoice", "Reset")[i % 3])
                              for i in range(400)])
    await email.enqueue_in(3600, t.send_email, "later@example.com", subject="Reminder")
    for i in range(12):
        await billing.enqueue(t.charge, f"cus_{i:04d}", 2_500 * (i + 1), retry=Retry(max=1))
    for i in range(3):
        await reports.enqueue(t.render_report, 1000 + i, fmt="pdf", job_timeout=900)
    await reports.enqueue(t.wait_on_upstream, "order-42")
    workers = [Worker(["billing"], url=url, imports=["tests.dashboard_tasks"], name="billing-1"),
               Worker(["reports"], url=url, imports=["tests.dashboard_tasks"], concurrency=8,
                      name="reports-1")]
    for w in workers:
        RUNNING.add(asyncio.create_task(w.run(install_signal_handlers=False)))
    await asyncio.sleep(1.5)
    now = time.time()
    for q, base_rate in ((email, 220), (billing, 40), (reports, 6)):
        minute = math.floor(now / 60) * 60
        total = failed = 0
        lines = []
        for m in range(60, 0, -1):
            rate = base_rate * (1 + 0.35 * math.sin(m / 7)) + (m % 5) * 3
            total += int(rate)
            failed += int(rate * (0.02 if q is not billing else 0.12))
            lines.append(f"{minute - m * 60} {total + failed} {total} {failed} 0 0 5 1 2 {failed}")
        key = f"{q.keys.base}history:minute"
        await q.store.call("DEL", key, key=key)
        await q.store.call("LPUSH", key, *lines, key=key)
        # the totals go on from the history, so the next real sample continues the chart
        await q.store.call("HINCRBY", q.keys.stats, "finished", total, key=key)
        await q.store.call("HINCRBY", q.keys.stats, "failed", failed, key=key)
    for q in (email, billing, reports):
        await q.close()
    return workers


async def shoot(folder: Path) -> None:
    server = RedisServer()
    try:
        workers = await fill(server.url)
        app = dashboard(server.url)
        async with serve(app) as base, chromium(1360, 860) as browser:
            page = await browser.new_page()
            shots = [("dashboard-overview", "/", None),
                     ("dashboard-queue-search", "/queues/email?state=queued&q=subject%3DInvoice",
                      None),
                     ("dashboard-failed", "/states/failed", None),
                     ("dashboard-workers", "/workers", "[data-stack-for]")]
            for name, path, click in shots:
                await page.goto(base + path)
                await page.wait_for_selector("#live.on")
                if click:
                    await page.click(click)
                    await page.wait_for_selector("pre.stack:not([hidden])")
                await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            await page.goto(base + "/states/failed")
            href = await page.get_attribute("#jobs tbody td.id a", "href")
            await page.goto(base + (href or "/"))
            await page.wait_for_selector("#traceback")
            await page.screenshot(path=str(folder / "dashboard-job.png"), full_page=True)
        for w in workers:
            w.stop_now()
        await asyncio.wait(RUNNING, timeout=10)
    finally:
        server.close()


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(out))
    print(f"screenshots in {out}/")
