"""``Misfire``: what to do with ticks that passed while no worker was there to enqueue them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from aqueue.schedules._instants import as_timedelta, canonical_json, load_object, seconds_of

MisfireKind = Literal["run_once", "catch_up", "skip"]
DEFAULT_GRACE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Misfire:
    """A misfire policy; build one with ``run_once()``, ``catch_up(n)`` or ``skip()``.

    A tick is *misfired* when it is found more than ``grace`` after its time (a worker
    was down, or busy past it). A tick found within ``grace`` is simply late and is
    always enqueued, whatever the policy.
    """

    kind: MisfireKind
    max_runs: int | None = None
    grace: timedelta = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if self.kind not in ("run_once", "catch_up", "skip"):
            raise ValueError(f"unknown misfire policy {self.kind!r}; "
                             "use Misfire.run_once(), Misfire.catch_up(n) or Misfire.skip()")
        object.__setattr__(self, "grace", as_timedelta(self.grace, "grace"))
        if self.grace < timedelta(0):
            raise ValueError(f"grace must not be negative, got {self.grace!r}")
        if self.kind == "catch_up":
            if isinstance(self.max_runs, bool) or not isinstance(self.max_runs, int) \
                    or self.max_runs < 1:
                raise ValueError(f"catch_up needs max_runs >= 1, got {self.max_runs!r}")
        elif self.max_runs is not None:
            raise ValueError(f"max_runs applies to catch_up only, not {self.kind}")

    @classmethod
    def run_once(cls, grace: timedelta | float = DEFAULT_GRACE) -> Misfire:
        """After downtime, one run stands for all the missed ticks; then on from now."""
        return cls("run_once", None, as_timedelta(grace, "grace"))

    @classmethod
    def catch_up(cls, max_runs: int, grace: timedelta | float = DEFAULT_GRACE) -> Misfire:
        """After downtime, one run per missed tick, oldest first, at most ``max_runs``."""
        return cls("catch_up", max_runs, as_timedelta(grace, "grace"))

    @classmethod
    def skip(cls, grace: timedelta | float = DEFAULT_GRACE) -> Misfire:
        """After downtime, no run for the missed ticks; the next one is on schedule."""
        return cls("skip", None, as_timedelta(grace, "grace"))

    def describe(self) -> str:
        grace = f"{seconds_of(self.grace)} s grace"
        if self.kind == "catch_up":
            return f"catch up at most {self.max_runs} missed runs ({grace})"
        return {"run_once": "run once for missed ticks", "skip": "skip missed ticks"}[
            self.kind] + f" ({grace})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_runs": self.max_runs, "grace": seconds_of(self.grace)}

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Misfire:
        return cls(kind=data["kind"], max_runs=data.get("max_runs"),
                   grace=as_timedelta(data.get("grace", 60), "grace"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Misfire:
        return cls.from_dict(load_object(data, "Misfire"))


DEFAULT_MISFIRE = Misfire.run_once()
