"""``depends_on=``: what a job waits for, checked before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, get_args

from aqueue.store.keys import check_name

OnFailure = Literal["fail", "run", "ignore"]
POLICIES: tuple[str, ...] = get_args(OnFailure)
MAX_PARENTS = 10_000


class JobLike(Protocol):
    """A ``Job`` or ``SyncJob``: anything with an id and a queue name."""

    @property
    def id(self) -> str: ...
    @property
    def queue_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Dependency:
    """One parent of a job, and what its failure means for the job.

    ``on_failure``: ``"fail"`` (default) cancels the job, with the reason, when the parent
    fails, is canceled, expires or is deleted; ``"run"`` runs it anyway once every parent
    has ended; ``"ignore"`` runs it too, leaving that parent out of the outcomes a callback
    receives. ``queue`` is the parent's queue when ``job`` is an id (default: the job's own
    queue)."""

    job: str | JobLike
    on_failure: OnFailure = "fail"
    queue: str | None = None

    def __post_init__(self) -> None:
        if self.on_failure not in POLICIES:
            raise ValueError(f"unknown on_failure policy {self.on_failure!r}: choose one of "
                             f"{', '.join(POLICIES)}")
        if self.queue is not None:
            check_name("queue name", self.queue)
        check_name("depends_on job id", self.job_id)

    @property
    def job_id(self) -> str:
        return self.job if isinstance(self.job, str) else self.job.id

    def queue_of(self, default: str) -> str:
        if self.queue is not None:
            return self.queue
        return default if isinstance(self.job, str) else self.job.queue_name


@dataclass(frozen=True, slots=True)
class Parents:
    """``depends_on`` after checks: the parents, and whether the job receives their
    outcomes as its first argument (``"chain"``: the result; ``"group"``: a list of
    ``Outcome``), as chains and groups do."""

    parents: tuple[Dependency, ...]
    inputs: Literal["", "chain", "group"] = ""

    def refs(self, queue: str) -> list[tuple[str, str, str]]:
        """(parent queue, parent id, policy), each parent once."""
        seen: dict[tuple[str, str], str] = {}
        for dep in self.parents:
            seen.setdefault((dep.queue_of(queue), dep.job_id), dep.on_failure)
        return [(q, i, p) for (q, i), p in seen.items()]


DependsOn: TypeAlias = "str | JobLike | Dependency | Sequence[str | JobLike | Dependency]"


def resolve_depends(value: Any) -> Parents | None:
    """Check ``depends_on``; None for an empty one."""
    if value is None:
        return None
    if isinstance(value, Parents):
        return value if value.parents else None
    items = [value] if isinstance(value, str | Dependency) or _job_like(value) else value
    if not isinstance(items, Sequence):
        raise TypeError(f"depends_on takes a job, a job id, a Dependency or a list of them; "
                        f"got {type(value).__name__}")
    parents = []
    for item in items:
        if isinstance(item, Dependency):
            parents.append(item)
        elif isinstance(item, str) or _job_like(item):
            parents.append(Dependency(item))
        else:
            raise TypeError(f"depends_on takes jobs, job ids or Dependency(...); got "
                            f"{type(item).__name__} {item!r}")
    if len(parents) > MAX_PARENTS:
        raise ValueError(f"depends_on lists {len(parents)} jobs; at most {MAX_PARENTS}")
    return Parents(tuple(parents)) if parents else None


def _job_like(value: Any) -> bool:
    return (not isinstance(value, str | bytes) and isinstance(getattr(value, "id", None), str)
            and isinstance(getattr(value, "queue_name", None), str))
