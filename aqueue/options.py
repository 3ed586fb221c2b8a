"""Every enqueue option, declared once.

``JobOptions`` is the one declaration of the options a job can be enqueued with: their
names, types and meaning. Every entry point takes them from here — ``enqueue(fn, *args,
**kwargs)`` picks these names out of its keyword arguments, ``enqueue_call(...,
**options)`` and ``Task.options(**options)`` are typed with them — and ``resolve``
checks them, in one place, against the queue's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from aqueue.flow.directive import Debounce, FlowDirective, Unique, resolve_flow
from aqueue.jobcontrol.options import ControlOptions, resolve_control
from aqueue.retry import Retry
from aqueue.store.keys import check_name
from aqueue.workflow.dependency import DependsOn, Parents, resolve_depends

DEFAULT_JOB_TIMEOUT = 180.0
DEFAULT_RESULT_TTL = 500
KEEP_FOREVER = -1
MAX_TTL = 10 * 365 * 24 * 3600  # far beyond any sensible TTL, far within Redis's range
MAX_TIMEOUT = 365 * 24 * 3600.0
MAX_DESCRIPTION = 1000


class JobOptions(TypedDict, total=False):
    """Options of one job (all optional; the queue's defaults fill the rest).

    - ``job_id``: the job's id (default: a random one). While a job with this id is
      queued, scheduled or running, enqueueing another raises ``JobExistsError``.
    - ``job_timeout``: seconds the job may run before it is cancelled (default 180).
    - ``result_ttl``: seconds a finished job and its result are kept (default 500;
      0: not kept, -1: kept until deleted).
    - ``failure_ttl``: seconds a failed job is kept (default -1: until requeued or
      deleted; 0: not kept).
    - ``retry``: a ``Retry`` policy for failures (default: no retries).
    - ``description``: free text shown by ``aqueue job`` and the dashboard.

    Time and flow control (docs/priorities-and-expiry.md, unique-and-debounce.md,
    limits.md):

    - ``priority``: -1000 to 1000, higher runs first within the queue (default 0; FIFO
      within a priority).
    - ``at_front``: run before the other waiting jobs of its priority.
    - ``expires``: seconds (or a timedelta) after the job is due, or an aware datetime:
      a job not started by then is not run and ends as ``expired``.
    - ``unique``: ``True`` or ``Unique(key, until, ttl)``: while a job with the same key
      (default: function and arguments; with ``job_id``: that id) is pending, enqueue
      returns it instead of adding another.
    - ``debounce``: ``Debounce(wait, key, keep, max_wait)``: a burst of enqueues becomes one
      run, ``wait`` seconds after the last one.
    - ``limit_key``: the key the queue's per-key limits count by (e.g. a customer id);
      jobs of different keys are claimed in turn.

    Job control (docs/job-control.md):

    - ``meta``: a dict of JSON values kept with the job; the job can add to it
      (``current_job().update_meta()``).
    - ``on_success`` / ``on_failure``: a function (or its dotted name) the worker calls
      once the job's outcome is recorded, if the worker allows that function.

    Dependencies (docs/workflows.md):

    - ``depends_on``: a job, job id or ``Dependency`` (or a list of them), in any queue:
      the job is ``deferred`` until they have ended, then runs (once).
    """

    job_id: str
    job_timeout: float
    result_ttl: int
    failure_ttl: int
    retry: Retry
    description: str
    # -- time and flow control (aqueue.flow) --
    priority: int
    at_front: bool
    expires: float | timedelta | datetime
    unique: bool | Unique
    debounce: Debounce
    limit_key: str
    # -- job control (aqueue.jobcontrol) --
    meta: dict[str, Any]
    on_success: Callable[..., Any] | str
    on_failure: Callable[..., Any] | str
    # -- dependencies (aqueue.workflow) --
    depends_on: DependsOn


OPTION_NAMES: frozenset[str] = frozenset(JobOptions.__annotations__)

# Names RQ users reach for that aqueue spells differently (or not at all).
RQ_NAMES = {
    "timeout": "RQ's `timeout` is `job_timeout` in aqueue",
    "ttl": "RQ's `ttl` (expire if not started) is `expires` in aqueue",
    "on_stopped": "RQ's `on_stopped` is not an aqueue option",
    "job_ttl": "RQ's `job_ttl` is not an aqueue option",
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """Options after defaults and checks: what the job is written with."""

    job_id: str | None
    job_timeout: float
    result_ttl: int
    failure_ttl: int
    retry: Retry | None
    description: str
    flow: FlowDirective | None = None  # priority, expiry, unique, debounce, limit key
    control: ControlOptions | None = None  # meta, callbacks
    depends: Parents | None = None  # depends_on (aqueue.workflow)


@dataclass(frozen=True, slots=True)
class QueueDefaults:
    job_timeout: float = DEFAULT_JOB_TIMEOUT
    result_ttl: int = DEFAULT_RESULT_TTL
    failure_ttl: int = KEEP_FOREVER

    def __post_init__(self) -> None:
        _check_timeout(self.job_timeout)
        _check_ttl("result_ttl", self.result_ttl)
        _check_ttl("failure_ttl", self.failure_ttl)


def split_options(kwargs: dict[str, Any]) -> tuple[JobOptions, dict[str, Any]]:
    """Separate the option names from a function's own keyword arguments."""
    if not OPTION_NAMES.intersection(kwargs):
        return {}, kwargs
    options: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name, value in kwargs.items():
        (options if name in OPTION_NAMES else rest)[name] = value
    return options, rest  # type: ignore[return-value]


def resolve(options: JobOptions | dict[str, Any], defaults: QueueDefaults) -> Resolved:
    """Apply the queue's defaults and check every option; errors name the option."""
    unknown = set(options) - OPTION_NAMES
    if unknown:
        name = sorted(unknown)[0]
        hint = RQ_NAMES.get(name, f"the options are {', '.join(sorted(OPTION_NAMES))}")
        raise TypeError(f"unknown enqueue option {name!r} ({hint})")
    job_id = options.get("job_id")
    if job_id is not None:
        check_name("job_id", job_id)
    timeout = options.get("job_timeout", defaults.job_timeout)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise TypeError(f"job_timeout takes seconds (a number), got {type(timeout).__name__}")
    _check_timeout(float(timeout))
    result_ttl = _ttl("result_ttl", options.get("result_ttl", defaults.result_ttl))
    failure_ttl = _ttl("failure_ttl", options.get("failure_ttl", defaults.failure_ttl))
    retry = options.get("retry")
    if retry is not None and not isinstance(retry, Retry):
        raise TypeError(f"retry takes a Retry policy, e.g. Retry(max=3, interval=10) or "
                        f"Retry.exponential(5); got {type(retry).__name__} {retry!r}")
    description = options.get("description") or ""
    if not isinstance(description, str):
        raise TypeError(f"description takes a string, got {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(f"description is {len(description)} characters; at most "
                         f"{MAX_DESCRIPTION}")
    flow = resolve_flow(options, job_id)
    depends = resolve_depends(options["depends_on"]) if "depends_on" in options else None
    if depends is not None and flow is not None:
        raise ValueError("depends_on cannot be combined with priority, at_front, expires, "
                         "unique, debounce or limit_key (not supported yet)")
    return Resolved(job_id, float(timeout), result_ttl, failure_ttl, retry, description,
                    flow=flow, control=resolve_control(options), depends=depends)


def _ttl(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} takes whole seconds (an int), got {type(value).__name__}")
    _check_ttl(name, value)
    return value


def _check_ttl(name: str, ttl: int) -> None:
    if not -1 <= ttl <= MAX_TTL:
        raise ValueError(f"{name} must be -1 (keep), 0 (drop) or up to {MAX_TTL} s, "
                         f"got {ttl!r}")


def _check_timeout(timeout: float) -> None:
    if not 0 < timeout <= MAX_TIMEOUT or math.isnan(timeout):
        raise ValueError(f"job_timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {timeout!r}")
