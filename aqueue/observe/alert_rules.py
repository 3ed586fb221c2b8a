"""Alert rules: what to watch on which queues, read from a TOML file (docs/alerts.md).

A rule looks at one queue at a time and says whether it fires. The engine
(``aqueue.observe.alerts``) decides when to ask and whom to tell.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from aqueue.observe.sampling import QueueSample
from aqueue.store.keys import check_name

EVERY_QUEUE = "*"


class AlertRulesError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and the key."""


@dataclass(frozen=True, slots=True)
class QueueView:
    """What a rule sees of one queue in one evaluation."""

    sample: QueueSample
    workers: int  # live workers serving the queue
    now: float  # Redis's clock
    history: Sequence[tuple[float, int, int]] = ()  # earlier (time, finished, failed), newest first


@dataclass(frozen=True, slots=True)
class Finding:
    firing: bool
    value: float
    summary: str  # what was seen, for people: "the oldest queued job has waited 712 s"


class Rule(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def queues(self) -> tuple[str, ...]:
        """Queue names; ("*",): every queue found."""
        ...

    def check(self, view: QueueView) -> Finding | None:
        """Whether the rule fires for this queue; None while it cannot tell yet."""
        ...

    def wants_history(self, interval: float) -> int: ...


@dataclass(frozen=True, slots=True)
class FailureRate:
    """Fires while more than ``above`` (a fraction) of the jobs that ended in the last
    ``window`` seconds failed, once at least ``min_jobs`` ended in it. Retries are not
    failures; a job failing for good is."""

    kind: ClassVar[str] = "failure_rate"
    name: str
    queues: tuple[str, ...]
    above: float
    window: float = 300.0
    min_jobs: int = 10

    def wants_history(self, interval: float) -> int:
        return min(1000, math.ceil(self.window / interval) + 2)

    def check(self, view: QueueView) -> Finding | None:
        if not view.history:
            return None  # the first reading: nothing to compare with yet
        in_window = [h for h in view.history if h[0] <= view.now - self.window]
        since, finished_then, failed_then = in_window[0] if in_window else view.history[-1]
        totals = view.sample.totals
        failed = _delta(totals.failed, failed_then)
        ended = failed + _delta(totals.finished, finished_then)
        rate = failed / ended if ended else 0.0
        seconds = view.now - since
        summary = (f"{rate:.0%} of jobs failed ({failed} of {ended}) in the last "
                   f"{seconds:.0f} s")
        return Finding(ended >= self.min_jobs and rate > self.above, rate,
                       f"{summary} (alert above {self.above:.0%}, from {self.min_jobs} jobs)")


@dataclass(frozen=True, slots=True)
class OldestQueued:
    """Fires while the next queued job has waited more than ``older_than`` seconds."""

    kind: ClassVar[str] = "oldest_queued"
    name: str
    queues: tuple[str, ...]
    older_than: float

    def wants_history(self, interval: float) -> int:
        return 0

    def check(self, view: QueueView) -> Finding | None:
        age = view.sample.oldest_age or 0.0
        return Finding(age > self.older_than, age,
                       f"the oldest queued job has waited {age:.0f} s (alert over "
                       f"{self.older_than:g} s)")


@dataclass(frozen=True, slots=True)
class NoWorker:
    """Fires while no live worker serves the queue (with ``only_with_jobs``: and jobs are
    queued or scheduled)."""

    kind: ClassVar[str] = "no_worker"
    name: str
    queues: tuple[str, ...]
    only_with_jobs: bool = False

    def wants_history(self, interval: float) -> int:
        return 0

    def check(self, view: QueueView) -> Finding | None:
        waiting = view.sample.counts.queued + view.sample.counts.scheduled
        firing = view.workers == 0 and (waiting > 0 or not self.only_with_jobs)
        return Finding(firing, float(view.workers),
                       f"{view.workers} live worker(s) serve it; {waiting} job(s) waiting")


KINDS: dict[str, type[FailureRate] | type[OldestQueued] | type[NoWorker]] = {
    cls.kind: cls for cls in (FailureRate, OldestQueued, NoWorker)}
_SPEC: dict[str, dict[str, tuple[type, bool]]] = {  # key: (type, required)
    "failure_rate": {"above": (float, True), "window": (float, False),
                     "min_jobs": (int, False)},
    "oldest_queued": {"older_than": (float, True)},
    "no_worker": {"only_with_jobs": (bool, False)},
}


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a TOML file: ``[[rule]]`` tables, each with ``name``, ``kind``,
    ``queues`` (default every queue) and the kind's settings."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise AlertRulesError(f"cannot read the alert rules {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertRulesError(f"{path} is not valid TOML: {exc}") from None
    return parse_rules(data, str(path))


def parse_rules(data: Mapping[str, Any], source: str = "the rules") -> list[Rule]:
    unknown = set(data) - {"rule"}
    if unknown:
        raise AlertRulesError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}"
                              " (rules are [[rule]] tables)")
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise AlertRulesError(f"{source}: no rules (add [[rule]] tables)")
    rules: list[Rule] = []
    for number, table in enumerate(tables, 1):
        rule = _parse_rule(table, f"{source}: rule {number}")
        if any(r.name == rule.name for r in rules):
            raise AlertRulesError(f"{source}: rule {number}: the name {rule.name!r} is taken "
                                  "by an earlier rule")
        rules.append(rule)
    return rules


def _parse_rule(table: Any, where: str) -> Rule:
    if not isinstance(table, dict):
        raise AlertRulesError(f"{where}: expected a table")
    name = table.get("name")
    if not isinstance(name, str):
        raise AlertRulesError(f"{where}: 'name' is missing (a string)")
    where = f"{where} ({name})"
    try:
        check_name("alert name", name)
    except ValueError as exc:
        raise AlertRulesError(f"{where}: {exc}") from None
    kind = table.get("kind")
    if kind not in KINDS:
        raise AlertRulesError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got "
                              f"{kind!r}")
    spec = _SPEC[kind]
    unknown = set(table) - {"name", "kind", "queues", *spec}
    if unknown:
        raise AlertRulesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for "
                              f"kind {kind} (it takes {', '.join(spec) or 'no settings'})")
    settings: dict[str, Any] = {}
    for key, (expected, required) in spec.items():
        if key not in table:
            if required:
                raise AlertRulesError(f"{where}: {kind} needs {key!r}")
            continue
        settings[key] = _setting(table[key], expected, f"{where}: {key!r}")
    if kind == "failure_rate" and not settings["above"] < 1:
        raise AlertRulesError(f"{where}: 'above' is a fraction below 1 (0.1 for 10%), got "
                              f"{settings['above']}")
    if settings.get("window", 1) == 0:
        raise AlertRulesError(f"{where}: 'window' must be more than 0 seconds")
    rule: Rule = KINDS[kind](name=name, queues=_queues(table.get("queues"), where),
                             **settings)
    return rule


def _setting(value: Any, expected: type, where: str) -> Any:
    if expected is bool:
        if not isinstance(value, bool):
            raise AlertRulesError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AlertRulesError(f"{where} must be a number, got {value!r}")
    if expected is int and not isinstance(value, int):
        raise AlertRulesError(f"{where} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise AlertRulesError(f"{where} must be 0 or more, got {value!r}")
    return expected(value)


def _queues(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return (EVERY_QUEUE,)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(q, str) for q in value):
        raise AlertRulesError(f"{where}: 'queues' must be a list of queue names (or \"*\")")
    for queue in value:
        if queue != EVERY_QUEUE:
            try:
                check_name("queue name", queue)
            except ValueError as exc:
                raise AlertRulesError(f"{where}: {exc}") from None
    return tuple(value)


def _delta(now: int, then: int) -> int:
    return now - then if now >= then else now  # the totals were reset meanwhile
