"""Cancelling a running job when its canceller says so (a push on the worker's control
channel: ``plugins/control.py``).

``cancel.lua`` has recorded the job as canceled already (so the worker's own outcome
for it is refused, and the reaper never sees it again); here the worker stops the job's
task and frees its claim and slot. A plain ``def`` job's thread cannot be stopped: it
runs on, and what it returns is discarded.
"""

from __future__ import annotations

import logging

from aqueue.log_text import clip
from aqueue.worker.executor import Ack
from aqueue.worker.running import RunningJobs

logger = logging.getLogger("aqueue.worker")


def cancel_running(running: RunningJobs, job_id: str, token: str) -> bool:
    """Cancel the task running ``job_id`` under claim ``token``; False if none does."""
    found = [c for c in running.tasks.values()
             if c.id == job_id and (not token or c.token == token)]
    if not found:
        return False
    claimed = found[0]
    task = claimed.task
    if claimed.settled or task is None or task.done():
        return False
    # the ack only confirms what cancel.lua recorded; it frees the claim (scripts/ack.lua)
    running.settle(claimed, Ack(claimed, "canceled", 0, []))
    task.cancel()
    logger.info("job %s (%s) canceled while running", clip(job_id), clip(claimed.func or "?"))
    return True
