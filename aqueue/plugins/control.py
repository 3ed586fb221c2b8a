"""The control plugin: a worker listens on a sharded channel of its own in the control
slot (``aq:{aq}:worker:<name>:ctl``) and answers requests by pushing a reply to the
short-lived list the request names (``aq:{aq}:reply:<token>``), on which the asker
blocks: no polling on either side.

Requests are JSON: ``{"do": "stack", "job": ID, "reply": KEY}`` answers with the live
stack of the task running job ID (``asyncio.Task.print_stack``); a plain ``def`` job
shows where its task waits for the job's thread. ``{"do": "cancel", "job": ID, "token":
CLAIM}``, sent by ``cancel()`` once it has recorded the job as canceled, cancels the task
running it (no reply). Nothing here runs on the job path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Mapping
from typing import Any

from aqueue.plugins.base import PluginContext, repeat
from aqueue.store import keys
from aqueue.store.pubsub import Subscriber

logger = logging.getLogger("aqueue.control")
REPLY_TTL = 30
STACK_LIMIT = 50  # frames shown


class Control:
    name = "control"

    def __init__(self) -> None:
        self.answered = 0
        self._replies: set[asyncio.Task[None]] = set()

    async def run(self, context: PluginContext) -> None:
        channel = keys.worker_control(context.worker_name)

        async def step() -> float:
            lost = asyncio.Event()
            address = await context.store.router.address_for(channel)
            subscriber = Subscriber(
                context.store.config, address, lambda _, data: self._on_request(context, data),
                sharded=True, on_unsubscribed=lambda _: lost.set(), on_lost=lost.set,
                name=f"{context.worker_name}:control")
            try:
                await subscriber.connect()
                await subscriber.subscribe([channel])
                await lost.wait()  # the connection dropped or the slot moved: subscribe anew
            finally:
                subscriber.close()
            return 0.0

        await repeat(step, logger, "listening for control requests")

    def _on_request(self, context: PluginContext, data: bytes) -> None:
        try:
            request = json.loads(data)
            if request.get("do") == "cancel":
                context.cancel_job(str(request["job"]), str(request.get("token", "")))
                return
            reply = str(request["reply"])
            if not reply.startswith(keys.REPLY_PREFIX):
                raise ValueError(f"reply key {reply!r} is not under {keys.REPLY_PREFIX}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("ignored a malformed control request: %s", exc)
            return
        answer = answer_request(request, context.running_tasks())
        task = asyncio.create_task(self._reply(context, reply, answer))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _reply(self, context: PluginContext, key: str, answer: dict[str, Any]) -> None:
        try:
            await context.store.call_many(
                [("LPUSH", key, json.dumps(answer)), ("EXPIRE", key, REPLY_TTL)], key=key)
            self.answered += 1
        except Exception as exc:  # the asker times out and says so
            logger.warning("could not answer a control request: %s", exc)


def answer_request(request: dict[str, Any], running: Mapping[str, asyncio.Task[None]]
                   ) -> dict[str, Any]:
    """The answer to one request, from the tasks running jobs now."""
    if request.get("do") != "stack":
        return {"ok": False, "error": f"unknown request {request.get('do')!r}"}
    job_id = str(request.get("job", ""))
    task = running.get(job_id)
    if task is None:
        return {"ok": False, "error": f"job {job_id} is not running on this worker"}
    return {"ok": True, "stack": format_stack(task)}


def format_stack(task: asyncio.Task[Any]) -> str:
    """The task's await chain, outermost first, like a traceback.

    ``Task.get_stack()`` gives a suspended task only its outermost frame; following each
    coroutine's ``cr_await`` down to the future it waits on gives every frame."""
    frames: list[tuple[Any, int]] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(frames) < STACK_LIMIT:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    lines = [f"Stack of {task.get_name()} (most recent call last):\n"]
    lines += traceback.StackSummary.extract(frames).format()
    if awaited is not None:
        lines.append(f"  waiting on {awaited!r:.200}\n")
    return "".join(lines)
