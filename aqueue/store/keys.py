"""The Redis key layout, in one place.

Every key of one queue carries the queue name as a hash tag (``{name}``), so all of a
queue's keys hash to one Redis Cluster slot and a script may touch any of them. What
spans queues (the worker registry, the list of known queues) lives in one control slot
of its own, ``{aq}``, and is never touched by the same script as a queue's keys.

==============================  ===========  ==============================================
key                             type         holds
==============================  ===========  ==============================================
``aq:{Q}:queued``               List         ids of jobs ready to run, next first (jobs
                                             handed back by a stopping or dead worker go in
                                             front)
``aq:{Q}:job:<id>``             Hash         one job: function, arguments, status,
                                             timestamps, attempts, result or error
``aq:{Q}:job:<id>:invalid``     any          a value found at a job's key that was not a
                                             hash, moved aside by the claim script
``aq:{Q}:started``              Sorted set   ids of running jobs, scored by lease deadline
``aq:{Q}:scheduled``            Sorted set   ids of delayed and retrying jobs, by due time
``aq:{Q}:failed``               Sorted set   ids of failed jobs, scored by when they failed
``aq:{Q}:stats``                Hash         counters: ``enqueued``, ``finished``,
                                             ``failed``, ``retry``, ``requeue``, ``canceled``
``aq:{Q}:marker``               Sorted set   one member while jobs are queued; workers
                                             block on it
``aq:{Q}:wake``                 List         a nudge for schedulers when a job is due sooner
``aq:{Q}:failed:expiry``        Sorted set   failed jobs with a failure TTL, by expiry time
``aq:{Q}:finished``             List         the last 10,000 finished jobs, newest first
``aq:{Q}:canceled``             List         the last 10,000 canceled jobs, newest first
``aq:{Q}:job:<id>:events``      channel      sharded pub/sub: "end" when a watched job ends
``aq:{Q}:job:<id>:progress``    channel      sharded pub/sub: a running job's progress (JSON)
``aq:{aq}:workers``             Sorted set   worker names scored by heartbeat expiry
``aq:{aq}:worker:<name>``       Hash         one worker's info, expires with its heartbeat
``aq:{aq}:queues``              Set          names of the queues producers and workers used
``aq:{Q}:history:minute``       List         counters sampled once a minute, newest first
                                             (a day); ``:hour``: once an hour (90 days)
``aq:{Q}:ix:...``               Sorted sets  the opt-in search index (``scripts/_index.lua``)
``aq:{aq}:worker:<name>:ctl``   channel      sharded pub/sub: requests to one worker (a
                                             running job's stack)
``aq:{aq}:reply:<token>``       List         a worker's answer to one request (30 s TTL)
==============================  ===========  ==============================================

Time and flow control (priorities, limits, unique locks, schedules) add keys of their own
in the same slot, listed in ``aqueue/flow/keys.py``.
Dependencies (``depends_on``, chains, groups) add a job's dependents and pending parents,
the queue's ``deferred`` set and its ``outbox``, in the same slot, listed in
``scripts/_deps.lua``.

All times (lease deadlines, due times, heartbeats) are Redis's own clock (``TIME`` inside
the scripts), so hosts whose clocks disagree still agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "aq"
CONTROL = f"{PREFIX}:{{aq}}"
WORKERS = f"{CONTROL}:workers"
QUEUES = f"{CONTROL}:queues"
MAX_NAME = 200


def worker_key(name: str) -> str:
    return f"{CONTROL}:worker:{name}"


def worker_control(name: str) -> bytes:
    """The sharded channel on which one worker listens for requests."""
    return f"{CONTROL}:worker:{name}:ctl".encode()


REPLY_PREFIX = f"{CONTROL}:reply:"


def check_name(what: str, name: str) -> None:
    """Refuse names that would break the key layout or a terminal."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid {what} {name!r}: use a non-empty string")
    if len(name) > MAX_NAME:
        raise ValueError(f"invalid {what} {name[:40]!r}...: longer than {MAX_NAME} characters")
    bad = next((c for c in name if c in "{}: " or not c.isprintable()), None)
    if bad is not None:
        raise ValueError(f"invalid {what} {name!r}: it contains {bad!r}; use a name without "
                         "braces, colons, spaces or control characters")


_REGISTRY_READ = {"queued": "LRANGE", "scheduled": "ZRANGE", "started": "ZRANGE",
                  "failed": "ZREVRANGE", "finished": "LRANGE", "canceled": "LRANGE",
                  "deferred": "ZRANGE"}


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

    @property
    def base(self) -> str:
        """``aq:{Q}:``, which names the keys outside the script block (see the prelude)."""
        return self.job_prefix[: -len("job:")]

    def registry(self, state: str) -> tuple[str, str]:
        """The key that lists the jobs in ``state``, and the command that reads it in the
        queue's order: queued as they will run, scheduled by due time, started by lease,
        failed (and the recent finished and canceled) newest first, deferred as enqueued."""
        key = {"queued": self.queued, "scheduled": self.scheduled, "started": self.started,
               "failed": self.failed}.get(state) or f"{self.base}{state}"
        return key, _REGISTRY_READ[state]

    @classmethod
    def for_queue(cls, name: str) -> QueueKeys:
        check_name("queue name", name)
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
        )

    def script_keys(self) -> list[str]:
        """The block of keys every Lua script takes per queue (see scripts/_prelude.lua)."""
        return [self.queued, self.started, self.scheduled, self.failed, self.stats,
                self.marker, self.wake, self.job_prefix]

    def job(self, job_id: str) -> str:
        return self.job_prefix + job_id

    def events(self, job_id: str) -> bytes:
        """The sharded pub/sub channel on which a watched job's end is announced."""
        return f"{self.job_prefix}{job_id}:events".encode()

    def progress(self, job_id: str) -> bytes:
        """The sharded channel on which a running job's progress is published."""
        return f"{self.job_prefix}{job_id}:progress".encode()
