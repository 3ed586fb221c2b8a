"""The dashboard's job page data shows meta, progress, the callback error and attempts."""

from __future__ import annotations

import httpx
import pytest

from aqueue import AsyncQueue, Retry
from aqueue.dashboard import dashboard
from tests import control_tasks
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def test_the_job_page_data_has_meta_progress_and_attempts(
        queue: AsyncQueue, running_worker: WorkerFactory, redis_url: str) -> None:
    control_tasks.observed.pop("d1", None)
    async with running_worker(queue.name, imports=["tests.control_tasks"]):
        job = await queue.enqueue(control_tasks.fail_then_succeed, "d1", meta={"team": "a"},
                                  retry=Retry(max=1, interval=0))
        await job.result(timeout=5)
        done = await queue.enqueue(control_tasks.report_progress, 2)
        await done.result(timeout=5)
    app = dashboard(redis_url)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://dash") as client:
            data = (await client.get(f"/api/queues/{queue.name}/jobs/{job.id}")).json()
            progress = (await client.get(f"/api/queues/{queue.name}/jobs/{done.id}")).json()
    finally:
        await app.state.dashboard.close()
    assert data["meta"] == {"team": "a"} and data["callback_error"] is None
    assert [a["outcome"] for a in data["history"]] == ["retry", "finished"]
    assert data["history"][0]["exc_type"] == "RuntimeError"
    assert progress["progress"] == {"value": 2, "total": 2, "message": "step 2",
                                    "fraction": 1.0}
