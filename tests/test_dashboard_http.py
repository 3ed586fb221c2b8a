"""The dashboard over HTTP, without a browser: who may look and act (auth hook, read-only
mode, CSRF), mounting it in a host app, bad input, and job data that is never markup."""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount

from aqueue import AsyncQueue
from aqueue.dashboard import Access, dashboard
from tests import dashboard_tasks as t
from tests.conftest import BurstRunner
from tests.redis_servers import free_port
from tests.test_cli import ROOT

pytestmark = pytest.mark.anyio
XSS = "<script>alert('owned')</script>"


def client(app: Any, base: str = "http://dash") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


Build = Callable[..., Starlette]


@pytest.fixture
async def dash() -> AsyncIterator[Build]:
    """``dash(url, **options)`` builds a dashboard, closed after the test (an ASGI
    transport runs no lifespan)."""
    built: list[Starlette] = []

    def build(*args: Any, **kwargs: Any) -> Starlette:
        built.append(dashboard(*args, **kwargs))
        return built[-1]

    yield build
    for app in built:
        await app.state.dashboard.close()


async def csrf_token(c: httpx.AsyncClient, path: str = "/") -> str:
    page = await c.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'data-csrf="([0-9a-f]{64})"', page.text)
    assert found, "no CSRF token in the page"
    return found[1]


@pytest.fixture
async def failed_job(queue: AsyncQueue, run_burst: BurstRunner) -> AsyncIterator[str]:
    job = await queue.enqueue(t.charge, "cus_1", 99_999)
    await run_burst(queue.name, imports=["tests.dashboard_tasks"])
    yield job.id


async def test_an_action_with_the_pages_csrf_token_runs(
    dash: Build, queue: AsyncQueue, redis_url: str, failed_job: str
) -> None:
    async with client(dash(redis_url)) as c:
        token = await csrf_token(c)
        answer = await c.post(f"/api/queues/{queue.name}/actions",
                              json={"action": "requeue", "ids": [failed_job]},
                              headers={"X-CSRF-Token": token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"changed": 1, "requested": 1}
    assert (await queue.counts()).queued == 1


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "0" * 64}],
                         ids=["no token", "wrong token"])
async def test_an_action_without_the_right_csrf_token_is_refused(
    dash: Build, queue: AsyncQueue, redis_url: str, failed_job: str, headers: dict[str, str]
) -> None:
    async with client(dash(redis_url)) as c:
        await csrf_token(c)
        answer = await c.post(f"/api/queues/{queue.name}/actions",
                              json={"action": "delete", "ids": [failed_job]}, headers=headers)
    assert answer.status_code == 403
    assert "CSRF token" in answer.json()["error"]
    assert (await queue.counts()).failed == 1


async def test_a_cross_origin_action_is_refused_even_with_a_token(
    dash: Build, queue: AsyncQueue, redis_url: str, failed_job: str
) -> None:
    async with client(dash(redis_url)) as c:
        token = await csrf_token(c)
        answer = await c.post(f"/api/queues/{queue.name}/actions",
                              json={"action": "delete", "ids": [failed_job]},
                              headers={"X-CSRF-Token": token, "Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert "cross-origin request from http://evil.example refused" in answer.json()["error"]


async def test_read_only_shows_no_actions_and_refuses_them(
    dash: Build, queue: AsyncQueue, redis_url: str, failed_job: str
) -> None:
    async with client(dash(redis_url, read_only=True)) as c:
        page = await c.get(f"/queues/{queue.name}?state=failed")
        token = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
        assert token
        answer = await c.post(f"/api/queues/{queue.name}/actions",
                              json={"action": "delete", "ids": [failed_job]},
                              headers={"X-CSRF-Token": token[1]})
    assert 'data-can-act="no"' in page.text and "read-only" in page.text
    assert answer.status_code == 403
    assert answer.json()["error"] == "the dashboard is read-only"
    assert (await queue.counts()).failed == 1


async def test_the_auth_hook_decides_who_may_look_and_who_may_act(
    dash: Build, queue: AsyncQueue, redis_url: str, failed_job: str
) -> None:
    async def auth(request: Request) -> Access:
        return {"admin": Access.WRITE, "viewer": Access.READ}.get(
            request.headers.get("x-user", ""), Access.NONE)

    app = dash(redis_url, auth=auth)
    async with client(app) as stranger:
        assert (await stranger.get("/")).status_code == 403
        assert (await stranger.get(f"/api/queues/{queue.name}")).status_code == 403
    async with client(app) as viewer:
        viewer.headers["x-user"] = "viewer"
        token = await csrf_token(viewer)
        refused = await viewer.post(f"/api/queues/{queue.name}/actions",
                                    json={"action": "delete", "ids": [failed_job]},
                                    headers={"X-CSRF-Token": token})
        assert refused.status_code == 403
        assert refused.json()["error"] == "you may not act on jobs here"
    async with client(app) as admin:
        admin.headers["x-user"] = "admin"
        token = await csrf_token(admin)
        done = await admin.post(f"/api/queues/{queue.name}/actions",
                                json={"action": "delete", "ids": [failed_job]},
                                headers={"X-CSRF-Token": token})
        assert done.json() == {"changed": 1, "requested": 1}


async def test_the_auth_hook_may_answer_with_its_own_response(dash: Build, redis_url: str
                                                              ) -> None:
    def basic_auth(request: Request) -> Response | bool:
        expected = "Basic " + base64.b64encode(b"ops:secret").decode()
        if request.headers.get("authorization") == expected:
            return True
        return PlainTextResponse("login", status_code=401,
                                 headers={"WWW-Authenticate": 'Basic realm="aqueue"'})

    async with client(dash(redis_url, auth=basic_auth)) as c:
        refused = await c.get("/")
        allowed = await c.get("/", auth=("ops", "secret"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="aqueue"'
    assert allowed.status_code == 200


async def test_mounted_in_a_host_app_its_links_carry_the_mount_path(
    dash: Build, queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(t.send_email, "a@example.com")
    host = Starlette(routes=[Mount("/ops/aqueue", app=dash(redis_url))])
    async with client(host) as c:
        page = await c.get(f"/ops/aqueue/queues/{queue.name}")
        css = await c.get("/ops/aqueue/static/dashboard.css")
        data = await c.get(f"/ops/aqueue/api/queues/{queue.name}")
    assert page.status_code == 200
    assert 'data-base="/ops/aqueue"' in page.text
    assert 'href="/ops/aqueue/static/dashboard.css"' in page.text
    assert "Path=/ops/aqueue" in page.headers["set-cookie"]
    assert css.status_code == 200
    assert data.json()["counts"]["queued"] == 1


async def test_job_data_is_never_markup(dash: Build, queue: AsyncQueue, redis_url: str) -> None:
    job = await queue.enqueue(t.send_email, XSS, subject=XSS)
    async with client(dash(redis_url)) as c:
        for path in ("/", f"/queues/{queue.name}", f"/queues/{queue.name}/jobs/{job.id}",
                     f"/queues/{queue.name}?q=subject%3D%3Cscript%3E"):
            page = await c.get(path)
            assert page.status_code == 200
            assert XSS not in page.text and "<script>alert" not in page.text
            assert page.text.count("<script") == 2  # the data block and dashboard.js


async def test_the_deferred_view_lists_jobs_waiting_for_their_parents(
    dash: Build, queue: AsyncQueue, redis_url: str
) -> None:
    parent = await queue.enqueue(t.render_report, 1)
    child = await queue.enqueue(t.send_email, "a@example.com", depends_on=parent)
    async with client(dash(redis_url)) as c:
        data = (await c.get(f"/api/queues/{queue.name}?state=deferred")).json()
    assert [j["id"] for j in data["jobs"]] == [child.id]
    assert data["counts"]["deferred"] == 1


async def test_a_job_page_links_the_jobs_named_in_its_arguments(
    dash: Build, queue: AsyncQueue, redis_url: str
) -> None:
    parent = await queue.enqueue(t.render_report, 1)
    child = await queue.enqueue(t.send_email, "a@example.com", subject=parent.id)
    async with client(dash(redis_url)) as c:
        data = (await c.get(f"/api/queues/{queue.name}/jobs/{child.id}")).json()
    assert [r["id"] for r in data["related"]] == [parent.id]
    assert data["searches"] == ["0=a@example.com", f"subject={parent.id}"]


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/queues/q?state=sleeping", 400, "unknown state 'sleeping'"),
    ("/api/queues/q?page=two", 400, "page must be a number, got 'two'"),
    ("/api/queues/a:b", 400, "invalid queue name 'a:b'"),
    ("/api/queues/q?q=status%3Aweird", 400, "unknown status 'weird'"),
    ("/api/states/started", 400, "no cross-queue page for 'started'"),
    ("/api?span=7d", 400, "unknown span '7d': choose one of 1h, 24h, 30d"),
    ("/live/queues/q?state=sleeping", 400, "unknown state 'sleeping'"),
])
async def test_bad_input_is_a_400_naming_the_problem(
    dash: Build, redis_url: str, path: str, status: int, message: str
) -> None:
    async with client(dash(redis_url)) as c:
        answer = await c.get(path)
    assert answer.status_code == status
    assert message in answer.json()["error"]


async def test_an_unreachable_redis_is_a_503_naming_it(dash: Build) -> None:
    async with client(dash("redis://127.0.0.1:1/0")) as c:
        answer = await c.get("/api")
    assert answer.status_code == 503
    assert "127.0.0.1:1" in answer.json()["error"]


def test_bad_options_are_refused_when_the_app_is_built() -> None:
    with pytest.raises(ValueError, match="interval must be more than 0 seconds"):
        dashboard("redis://127.0.0.1:1/0", interval=0)
    with pytest.raises(TypeError, match="auth must be a callable"):
        dashboard("redis://127.0.0.1:1/0", auth="admin")  # type: ignore[arg-type]


def test_the_standalone_command_serves_on_loopback_and_stops_cleanly(redis_url: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aqueue", "dashboard", "--url", redis_url, "--port", str(port),
         "--read-only"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner == (f"aqueue dashboard on http://127.0.0.1:{port}/ (read-only, "
                          "Ctrl-C to stop)\n")
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and 'data-can-act="no"' in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr


async def test_the_dashboard_serves_prometheus_metrics_of_its_queues(
    dash: Build, queue: AsyncQueue, redis_url: str
) -> None:
    await queue.enqueue(t.send_email, "a@b.c")
    async with client(dash(url=redis_url)) as c:
        scraped = await c.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    assert re.search(rf'aqueue_queue_jobs\{{[^}}]*queue="{queue.name}"[^}}]*state="queued"'
                     rf'[^}}]*\}} 1\.0', scraped.text), scraped.text[:2000]
