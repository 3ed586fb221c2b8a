"""Job functions for the dashboard's browser tests and screenshots."""

from __future__ import annotations

import asyncio


async def send_email(to: str, subject: str = "Hello") -> str:
    await asyncio.sleep(0.01)
    return f"sent {subject!r} to {to}"


async def render_report(report_id: int, fmt: str = "pdf") -> dict[str, object]:
    await asyncio.sleep(600)  # long enough to be seen running
    return {"report": report_id, "format": fmt}


async def charge(customer: str, amount_cents: int) -> None:
    if amount_cents > 10_000:
        raise ValueError(f"card of {customer} declined for {amount_cents} cents")


async def wait_on_upstream(order: str) -> None:
    await _poll_upstream(order)


async def _poll_upstream(order: str) -> None:
    while True:
        await asyncio.sleep(3600)
