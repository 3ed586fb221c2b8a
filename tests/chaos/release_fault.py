"""Imported by a chaos worker (``--import tests.chaos.release_fault``): with probability
``$AQUEUE_RELEASE_KILL`` the worker SIGKILLs itself after delivering a page of outbox
messages (release.lua ran in the child's slot) and before removing them from the outbox
(the HDEL in the parent's slot): the window an outbox has to survive. Each kill is
counted in the ledger (``chaos:release-kills``)."""

from __future__ import annotations

import os
import random
import signal
from typing import Any

import redis

from aqueue.client.ops import Call, Op
from aqueue.workflow import ops
from tests.chaos import jobs

KILL_ENV = "AQUEUE_RELEASE_KILL"
KILLS = "chaos:release-kills"
_original = ops._deliver_one
_p = float(os.environ.get(KILL_ENV, "0"))


def _faulty(name: str) -> Op[Any]:
    inner = _original(name)
    step = next(inner)
    while True:
        if isinstance(step, Call) and step.command[0] == "HDEL" and random.random() < _p:
            redis.Redis.from_url(os.environ[jobs.LEDGER_ENV]).incr(KILLS)
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            reply = yield step
        except BaseException as exc:
            step = inner.throw(exc)
            continue
        try:
            step = inner.send(reply)
        except StopIteration as stop:
            return stop.value


if _p > 0:
    ops._deliver_one = _faulty
