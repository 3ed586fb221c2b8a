"""Cancelling a running job when its canceller says so (a push on the worker's control
channel: ``plugins/control.py``).

``cancel.lua`` has recorded the job as canceled already (so the worker's own outcome
for it is refused, and the reaper never sees it again); here the worker stops the job's
task and frees its claim and slot. A plain ``def`` job's thread cannot be stopped: it
runs on, and what it returns is discarded.

The push can overtake the claim's own reply (they come on different connections): a
cancellation for a claim this worker does not run yet is kept a while, and applied when
the claim lands.
"""

from __future__ import annotations

import logging
import time

from aqueue.log_text import clip
from aqueue.worker.executor import Ack, Claimed
from aqueue.worker.running import RunningJobs

logger = logging.getLogger("aqueue.worker")
EARLY_KEPT = 30.0  # seconds a cancellation waits for its claim to land
EARLY_MOST = 10_000


class Canceller:
    def __init__(self, running: RunningJobs) -> None:
        self.running = running
        self.early: dict[str, float] = {}  # claim token -> when its cancellation came

    def cancel(self, job_id: str, token: str) -> bool:
        """Cancel the task running ``job_id`` under claim ``token``; if no task runs it
        yet, keep the cancellation for when it does. False if it was kept."""
        found = [c for c in self.running.tasks.values()
                 if c.id == job_id and (not token or c.token == token)]
        if found:
            return cancel_task(self.running, found[0])
        if token:
            now = time.monotonic()
            if len(self.early) >= EARLY_MOST or (self.early and min(self.early.values())
                                                 < now - EARLY_KEPT):
                self.early = {t: at for t, at in self.early.items() if at >= now - EARLY_KEPT}
            self.early[token] = now
        return False

    def claimed(self, claimed: Claimed) -> None:
        """A claim landed (called only while ``early`` holds something)."""
        if self.early.pop(claimed.token, None) is not None:
            cancel_task(self.running, claimed)


def cancel_task(running: RunningJobs, claimed: Claimed) -> bool:
    task = claimed.task
    if claimed.settled or task is None or task.done():
        return False
    # the ack only confirms what cancel.lua recorded; it frees the claim (scripts/ack.lua)
    running.settle(claimed, Ack(claimed, "canceled", 0, []))
    task.cancel()
    logger.info("job %s (%s) canceled while running", clip(claimed.id),
                clip(claimed.func or "?"))
    return True
