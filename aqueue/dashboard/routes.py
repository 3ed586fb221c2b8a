"""The dashboard's HTTP endpoints: pages (HTML with their data embedded), the same data
as JSON, live streams (server-sent events), and actions (POST, CSRF-checked)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from aqueue.client.search import SearchQuery
from aqueue.dashboard import reads
from aqueue.dashboard.bulk import ACTIONS, apply
from aqueue.dashboard.security import Access, set_csrf_cookie
from aqueue.dashboard.state import DashboardState
from aqueue.errors import AqueueError, NoSuchJobError, WorkerNotListening

TEMPLATES = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("aqueue.dashboard") / "templates")),
    autoescape=True))
MAX_IDS = 10_000
Read = Callable[[Request, DashboardState], Awaitable[dict[str, Any]]]


def state_of(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state


def access(request: Request) -> Access:
    level: Access = request.scope.get("state", {}).get("aqueue_access", Access.NONE)
    return level


def embed(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no "</script>" can end it."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def guarded(call: Callable[[], Awaitable[Response]]) -> Response:
    """Bad input is a 400 naming it, Redis trouble a 503, with the error as JSON."""
    try:
        return await call()
    except ValueError as exc:
        return error(400, str(exc))
    except NoSuchJobError as exc:
        return error(404, str(exc))
    except WorkerNotListening as exc:
        return error(409, str(exc))
    except TimeoutError as exc:
        return error(504, str(exc))
    except AqueueError as exc:
        return error(503, str(exc))


# -- what each view reads, from the request ---------------------------------------------

def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "0")
    if not raw.isdigit():
        raise ValueError(f"page must be a number, got {raw!r}")
    return int(raw)


async def read_overview(request: Request, state: DashboardState) -> dict[str, Any]:
    return await reads.overview_data(state, request.query_params.get("span", "1h"))


async def read_queue(request: Request, state: DashboardState) -> dict[str, Any]:
    p = request.query_params
    return await reads.queue_data(state, request.path_params["name"], p.get("state", "queued"),
                                  p.get("q", ""), _page_number(request), p.get("cursor") or None)


async def read_job(request: Request, state: DashboardState) -> dict[str, Any]:
    return await reads.job_data(state, request.path_params["name"],
                                request.path_params["job_id"])


async def read_workers(request: Request, state: DashboardState) -> dict[str, Any]:
    return await reads.workers_data(state)


async def read_states(request: Request, state: DashboardState) -> dict[str, Any]:
    return await reads.state_data(state, request.path_params["state"])


def live_key(request: Request) -> str:
    return f"{request.url.path}?{request.url.query}"


# -- building the three kinds of endpoint for each view --------------------------------

def page(template: str, read: Read, title: Callable[[Request], str]) -> Route | Any:
    async def endpoint(request: Request) -> Response:
        state = state_of(request)

        async def render() -> Response:
            data = await read(request, state)
            cookie, new = state.csrf.cookie_for(request)
            base = request.scope.get("root_path", "")
            response = TEMPLATES.TemplateResponse(request, template, {
                "title": title(request), "brand": state.settings.title, "base": base,
                "data_json": embed(data), "csrf": state.csrf.token(cookie),
                "can_act": access(request) >= Access.WRITE, "page": template.split(".")[0],
                "read_only": state.settings.read_only or access(request) < Access.WRITE,
                "path": request.path_params})
            if new:
                set_csrf_cookie(response, cookie, base)
            return response

        return await guarded(render)
    return endpoint


def data(read: Read) -> Any:
    async def endpoint(request: Request) -> Response:
        state = state_of(request)

        async def answer() -> Response:
            return JSONResponse(await read(request, state))

        return await guarded(answer)
    return endpoint


def live(read: Read, interval: float | None = None) -> Any:
    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        try:
            await read(request, state)  # bad input: an error now, not a stream of them
        except (ValueError, AqueueError) as exc:
            return error(400 if isinstance(exc, ValueError) else 503, str(exc))
        stream = state.hub.stream(live_key(request), lambda: read(request, state), interval)
        return StreamingResponse(stream, media_type="text/event-stream", headers={
            "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return endpoint


# -- actions ---------------------------------------------------------------------------

async def _body(request: Request, level: Access) -> dict[str, Any] | Response:
    state = state_of(request)
    if access(request) < level:
        return error(403, "the dashboard is read-only" if state.settings.read_only
                     else "you may not act on jobs here")
    problem = state.csrf.check(request)
    if problem:
        return error(403, problem)
    try:
        body = await request.json()
    except ValueError:
        return error(400, "the request body must be JSON")
    if not isinstance(body, dict):
        return error(400, "the request body must be a JSON object")
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("ids must be a list of job ids")
    if len(ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids at once; act on all matching instead")
    return ids


def _action(body: dict[str, Any]) -> str:
    action = body.get("action")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")
    return str(action)


async def queue_action(request: Request) -> Response:
    body = await _body(request, Access.WRITE)
    if isinstance(body, Response):
        return body
    state = state_of(request)

    async def act() -> Response:
        queue = state.queue(request.path_params["name"])
        action = _action(body)
        if body.get("all"):
            query = SearchQuery.parse(str(body.get("q", "")), status=body.get("state") or None)
            task = state.bulk.start(queue, action, query)
            return JSONResponse({"task": task.view()}, status_code=202)
        ids = _ids(body)
        return JSONResponse({"changed": await apply(queue, action, ids), "requested": len(ids)})

    return await guarded(act)


async def jobs_action(request: Request) -> Response:
    """An action on jobs of several queues (the failed and scheduled pages)."""
    body = await _body(request, Access.WRITE)
    if isinstance(body, Response):
        return body
    state = state_of(request)

    async def act() -> Response:
        action = _action(body)
        jobs = body.get("jobs")
        if not isinstance(jobs, list) or len(jobs) > MAX_IDS or not all(
                isinstance(j, dict) and isinstance(j.get("queue"), str)
                and isinstance(j.get("id"), str) for j in jobs):
            raise ValueError("jobs must be a list of {queue, id}")
        by_queue: dict[str, list[str]] = {}
        for j in jobs:
            by_queue.setdefault(j["queue"], []).append(j["id"])
        changed = 0
        for name, ids in by_queue.items():
            changed += await apply(state.queue(name), action, ids)
        return JSONResponse({"changed": changed, "requested": len(jobs)})

    return await guarded(act)


async def index_action(request: Request) -> Response:
    body = await _body(request, Access.WRITE)
    if isinstance(body, Response):
        return body
    state = state_of(request)

    async def act() -> Response:
        queue = state.queue(request.path_params["name"])
        if body.get("enable"):
            fields = body.get("fields")
            if fields is not None and not (isinstance(fields, list)
                                           and all(isinstance(f, str) for f in fields)):
                raise ValueError("fields must be a list of argument names, or null")
            backfilled = await queue.enable_search_index(fields)
            return JSONResponse({"enabled": True, "backfilled": backfilled})
        await queue.drop_search_index()
        return JSONResponse({"enabled": False})

    return await guarded(act)


async def stack_action(request: Request) -> Response:
    body = await _body(request, Access.READ)  # looking only, but it asks a worker: POST
    if isinstance(body, Response):
        return body
    state = state_of(request)

    async def ask() -> Response:
        job_id = body.get("job")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("job must be a job id")
        stack = await state.admin.job_stack(request.path_params["name"], job_id)
        return JSONResponse({"stack": stack})

    return await guarded(ask)


async def task_data(request: Request, state: DashboardState) -> dict[str, Any]:
    task = state.bulk.tasks.get(request.path_params["task_id"])
    if task is None:
        raise ValueError(f"no bulk task {request.path_params['task_id']!r} in this process")
    return task.view()


def routes() -> list[BaseRoute]:
    def named(prefix: str) -> Callable[[Request], str]:
        return lambda r: prefix.format(**r.path_params)

    views: list[tuple[str, str, Read, Callable[[Request], str]]] = [
        ("/", "overview.html", read_overview, named("Overview")),
        ("/queues/{name}", "queue.html", read_queue, named("Queue {name}")),
        ("/queues/{name}/jobs/{job_id}", "job.html", read_job, named("Job {job_id}")),
        ("/workers", "workers.html", read_workers, named("Workers")),
        ("/states/{state}", "states.html", read_states, named("{state}")),
    ]
    out: list[BaseRoute] = []
    for path, template, read, title in views:
        out.append(Route(path, page(template, read, title)))
        out.append(Route(f"/api{path}".rstrip("/") or "/api", data(read)))
        out.append(Route(f"/live{path}".rstrip("/") or "/live", live(read)))
    out += [
        Route("/api/tasks/{task_id}", data(task_data)),
        Route("/live/tasks/{task_id}", live(task_data, interval=0.3)),
        Route("/api/queues/{name}/actions", queue_action, methods=["POST"]),
        Route("/api/actions", jobs_action, methods=["POST"]),
        Route("/api/queues/{name}/index", index_action, methods=["POST"]),
        Route("/api/workers/{name}/stack", stack_action, methods=["POST"]),
    ]
    return out
