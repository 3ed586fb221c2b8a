"""The keys of time and flow control, beside a queue's own (``aqueue.store.keys``).

The scripts build them from the queue's job prefix (``scripts/_flow.lua``), so they carry
the queue's hash tag and live in its cluster slot. None of them exists for a queue that
uses none of these features.

================================  ==========  ============================================
key                               type        holds
================================  ==========  ============================================
``aq:{Q}:flow``                   Hash        ``paused``; limits ``rate``/``period``,
                                              ``conc``, ``krate``/``kperiod``, ``kconc``;
                                              ``seq`` (the order of prioritized jobs)
``aq:{Q}:prio``                   Sorted set  ready jobs with a priority, by priority band
                                              then order
``aq:{Q}:g:<key>``                Sorted set  ready jobs of one limit key, scored the same
``aq:{Q}:gready``                 List        limit keys whose turn may come, round robin
``aq:{Q}:gin``                    Set         the members of ``gready`` (each once)
``aq:{Q}:gkeys``                  Set         limit keys that have ready jobs
``aq:{Q}:grun``                   Hash        running jobs per limit key
``aq:{Q}:grate``, ``aq:{Q}:rate`` Hash        starts in the current window ("window:n"),
                                              per limit key / for the queue
``aq:{Q}:wakeups``                Sorted set  when a limit's window ends: ``:wake`` (the
                                              queue), ``:g:<key>``; the promoter wakes the
                                              workers then
``aq:{Q}:unique:<key>``           String      the id of the job holding a unique lock
``aq:{Q}:debounce:<key>``         String      the id of the job a debounce collapses into
``aq:{Q}:cron:<name>``            Hash        one schedule: definition and state
``aq:{Q}:crons``                  Sorted set  schedule names by next tick (``+inf``: paused)
================================  ==========  ============================================
"""

from __future__ import annotations

from aqueue.store.keys import QueueKeys


def base(keys: QueueKeys) -> str:
    """``aq:{Q}:``, the prefix of every key above."""
    return keys.job_prefix.removesuffix("job:")


def flow_hash(keys: QueueKeys) -> str:
    return base(keys) + "flow"


def cron_index(keys: QueueKeys) -> str:
    return base(keys) + "crons"


def cron_hash(keys: QueueKeys, name: str) -> str:
    return base(keys) + "cron:" + name
