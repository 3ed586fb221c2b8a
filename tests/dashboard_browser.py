"""Running the dashboard for browser tests: uvicorn serving it in the test's event loop,
and Debian's Chromium driven by Playwright (the Playwright package's own browser
download does not work here; `make chromium` installs Debian's)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.redis_servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handlers alone
        yield


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                    timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def chromium(width: int = 1360, height: int = 900) -> AsyncIterator[BrowserContext]:
    """A fresh Chromium profile; fails loudly if Chromium is not installed."""
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                           "(apt-get install chromium, or `make chromium` as root)")
    profile = tempfile.mkdtemp(prefix="aqueue-chromium-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": width, "height": height})
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def new_page(context: BrowserContext) -> tuple[Page, list[str]]:
    """A page, and the list its dialogs (alert, confirm) and page errors are noted in;
    confirm dialogs are accepted."""
    page = await context.new_page()
    events: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        events.append(f"{dialog.type}: {dialog.message}")
        await dialog.accept()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: events.append(f"pageerror: {exc}"))
    return page, events
