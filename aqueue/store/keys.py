"""The Redis key layout, in one place.

Every key of one queue carries the queue name as a hash tag (``{name}``), so all of a
queue's keys hash to one Redis Cluster slot and a script may touch any of them.

==========================  ===========  ==================================================
key                         type         holds
==========================  ===========  ==================================================
``aq:{Q}:queued``           List         ids of jobs ready to run, next first (jobs handed
                                         back by a stopping or dead worker go in front)
``aq:{Q}:job:<id>``         Hash         one job: function, arguments, status, timestamps,
                                         attempts, result or error (expires after its TTL)
``aq:{Q}:job:<id>:invalid`` any          a value found at a job's key that was not a hash,
                                         moved aside by the claim script
``aq:{Q}:started``          Sorted set   ids of running jobs, scored by lease deadline
``aq:{Q}:scheduled``        Sorted set   ids of delayed and retrying jobs, scored by due time
``aq:{Q}:failed``           Sorted set   ids of failed jobs, scored by when they expire
                                         (``+inf``: kept until requeued or deleted)
``aq:{Q}:stats``            Hash         counters: ``finished``, ``failed``,
                                         ``retry``, ``requeue``
``aq:{Q}:marker``           Sorted set   one member while jobs are queued; workers block on it
``aq:{Q}:wake``             List         a nudge for schedulers when a job is due sooner
``aq:{Q}:done:<id>``        List         a nudge for ``Job.result()`` waiters (short TTL)
``aq:workers``              Sorted set   worker names scored by heartbeat expiry
``aq:worker:<name>``        Hash         one worker's info, expires with its heartbeat
==========================  ===========  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "aq"
WORKERS = f"{PREFIX}:workers"


def worker_key(name: str) -> str:
    return f"{PREFIX}:worker:{name}"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue."""

    name: str
    queued: str
    started: str
    scheduled: str
    failed: str
    stats: str
    marker: str
    wake: str
    job_prefix: str
    done_prefix: str

    @classmethod
    def for_queue(cls, name: str) -> QueueKeys:
        if not name or any(c in name for c in "{}: \t\n"):
            raise ValueError(
                f"invalid queue name {name!r}: use a non-empty name without braces, colons "
                "or spaces"
            )
        base = f"{PREFIX}:{{{name}}}"
        return cls(
            name=name,
            queued=f"{base}:queued",
            started=f"{base}:started",
            scheduled=f"{base}:scheduled",
            failed=f"{base}:failed",
            stats=f"{base}:stats",
            marker=f"{base}:marker",
            wake=f"{base}:wake",
            job_prefix=f"{base}:job:",
            done_prefix=f"{base}:done:",
        )

    def script_keys(self) -> list[str]:
        """The block of keys every Lua script takes per queue (see scripts/_prelude.lua)."""
        return [self.queued, self.started, self.scheduled, self.failed, self.stats,
                self.marker, self.wake, self.job_prefix, self.done_prefix]

    def job(self, job_id: str) -> str:
        return self.job_prefix + job_id

    def done(self, job_id: str) -> str:
        return self.done_prefix + job_id
