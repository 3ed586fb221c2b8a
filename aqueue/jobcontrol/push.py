"""Telling a worker that the job it runs was canceled: one SPUBLISH on the worker's
control channel (``plugins/control.py``), apart from the cancel script (another slot)."""

from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError

from aqueue.client.ops import Call, Op
from aqueue.jobcontrol.record import worker_of
from aqueue.store import keys

logger = logging.getLogger("aqueue.client")


def tell_worker(job_id: str, token: str) -> Op[bool]:
    """Push the cancellation to the worker that claims the job (named by its claim token);
    True if a worker heard it. The job is recorded as canceled either way: a worker that
    is away runs it to its end, and its outcome is then refused."""
    worker = worker_of(token)
    if not worker:
        return False
    channel = keys.worker_control(worker)
    request = json.dumps({"do": "cancel", "job": job_id, "token": token})
    try:
        receivers = yield Call(("SPUBLISH", channel, request), key=channel)
    except (RedisError, OSError) as exc:
        logger.warning("job %s is canceled, but its worker %s could not be told (%s): the "
                       "job runs on there until it ends, and its outcome is discarded",
                       job_id, worker, exc)
        return False
    return bool(receivers)
