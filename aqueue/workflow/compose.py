"""Chains and groups: jobs composed into a workflow, enqueued as ``depends_on`` edges.

``step(fn, *args)`` is a job not yet enqueued; ``chain(a, b, c)`` runs them one after the
other, each step receiving the previous one's result as its first argument; ``group(x,
y, then=cb)`` runs its members side by side and then ``cb`` once, with the list of their
``Outcome``. They nest: a group in a chain receives the previous result in each member
and hands the list of outcomes to the next step. Every edge points from an earlier job
to a later one, so a workflow cannot have a cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeAlias, TypeVar, overload

from aqueue.client.encoding import Draft, FunctionRef, JobEncoder
from aqueue.functions import check_arguments, function_name
from aqueue.options import OPTION_NAMES, RQ_NAMES, split_options
from aqueue.store.keys import check_name
from aqueue.workflow.dependency import POLICIES, Dependency, OnFailure, Parents

R = TypeVar("R")


@dataclass(frozen=True)
class Signature(Generic[R]):
    """One job of a workflow, not enqueued yet: ``step(fn, *args, **kwargs)``."""

    fn: FunctionRef
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # None: the queue the workflow is enqueued with

    def on(self, queue: str) -> Signature[R]:
        """The same job, in another queue (which may be on another cluster node)."""
        check_name("queue name", queue)
        return replace(self, queue=queue)

    def with_options(self, **options: Any) -> Signature[R]:
        """The same job with more enqueue options (``job_timeout``, ``retry``...)."""
        unknown = set(options) - OPTION_NAMES
        if unknown or "depends_on" in options:
            raise TypeError(f"not an option of a workflow step: {sorted(unknown) or 'depends_on'}")
        return replace(self, options={**self.options, **options})


@overload
def step(fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> Signature[R]: ...
@overload
def step(fn: Callable[..., R], *args: Any, **kwargs: Any) -> Signature[R]: ...
@overload
def step(fn: str, *args: Any, **kwargs: Any) -> Signature[Any]: ...


def step(fn: FunctionRef, *args: Any, **kwargs: Any) -> Signature[Any]:
    """A workflow step: ``fn(*args, **kwargs)``, option names picked out as in enqueue."""
    options, rest = split_options(kwargs)
    if "depends_on" in options:
        raise TypeError("a workflow step gets its dependencies from chain() and group()")
    return Signature(fn, args, rest, dict(options))


@dataclass(frozen=True)
class Chain(Generic[R]):
    """Steps run one after the other; see ``chain``."""

    steps: tuple[Node, ...]
    on_failure: OnFailure = "fail"


@dataclass(frozen=True)
class Group(Generic[R]):
    """Members run side by side, then an optional callback; see ``group``."""

    members: tuple[Node, ...]
    then: Signature[R] | None = None
    on_failure: OnFailure = "run"


Node: TypeAlias = "Signature[Any] | Chain[Any] | Group[Any]"


@overload
def chain(a: Node, b: Signature[R] | Chain[R] | Group[R], /, *,
          on_failure: OnFailure = "fail") -> Chain[R]: ...
@overload
def chain(a: Node, b: Node, c: Signature[R] | Chain[R] | Group[R], /, *,
          on_failure: OnFailure = "fail") -> Chain[R]: ...
@overload
def chain(a: Node, b: Node, c: Node, d: Signature[R] | Chain[R] | Group[R], /, *,
          on_failure: OnFailure = "fail") -> Chain[R]: ...
@overload
def chain(*steps: Node, on_failure: OnFailure = "fail") -> Chain[Any]: ...


def chain(*steps: Node, on_failure: OnFailure = "fail") -> Chain[Any]:
    """Run ``steps`` in order; each receives the previous step's result (a group's: the
    list of its ``Outcome``) as its first argument. ``on_failure="fail"`` (default): a step
    that fails cancels the rest; ``"run"``: the next runs anyway (receiving None)."""
    if not steps:
        raise ValueError("chain() needs at least one step")
    _check(steps, on_failure)
    return Chain(steps, on_failure)


@overload
def group(*members: Node, then: Signature[R], on_failure: OnFailure = "run") -> Group[R]: ...
@overload
def group(*members: Node, then: None = None,
          on_failure: OnFailure = "run") -> Group[list[Any]]: ...


def group(*members: Node, then: Signature[Any] | None = None,
          on_failure: OnFailure = "run") -> Group[Any]:
    """Run ``members`` side by side; ``then`` runs once when all have ended, with the list
    of their ``Outcome`` (in order) as its first argument. ``on_failure``: ``"run"``
    (default) calls it whatever the members' ends, ``"fail"`` cancels it if one failed,
    ``"ignore"`` leaves failed members out of the list."""
    if not members:
        raise ValueError("group() needs at least one member")
    _check(members, on_failure)
    if then is not None and not isinstance(then, Signature):
        raise TypeError(f"then= takes a step(...), got {type(then).__name__}")
    return Group(members, then, on_failure)


def _check(nodes: tuple[Any, ...], on_failure: str) -> None:
    if on_failure not in POLICIES:
        raise ValueError(f"unknown on_failure policy {on_failure!r}: choose one of "
                         f"{', '.join(POLICIES)}")
    for node in nodes:
        if not isinstance(node, Signature | Chain | Group):
            raise TypeError(f"a workflow is made of step(...), chain(...) and group(...); got "
                            f"{type(node).__name__} {node!r}")


# -- planning: the jobs of a workflow, parents before children --------------------------

Exit = tuple[str, str]  # (queue, job id)
Inputs = Literal["chain", "group"]


@dataclass
class Planner:
    """Drafts every job of a workflow with its queue's encoder, in enqueue order."""

    encoder_for: Callable[[str], JobEncoder]
    default_queue: str
    jobs: list[tuple[str, Draft]] = field(default_factory=list)

    def plan(self, node: Node, after: list[Exit], inputs: Inputs,
             policy: OnFailure) -> tuple[list[Exit], bool]:
        """Draft ``node`` after ``after``; returns its exits, and whether they are one
        result (else a list of outcomes) for what comes next."""
        if isinstance(node, Signature):
            return [self._draft(node, after, inputs, policy)], True
        if isinstance(node, Chain):
            single = True
            for index, item in enumerate(node.steps):
                link = policy if index == 0 else node.on_failure
                after, single = self.plan(item, after, inputs, link)
                inputs = "chain" if single else "group"
            return after, single
        exits: list[Exit] = []
        for member in node.members:
            exits += self.plan(member, after, inputs, policy)[0]
        if node.then is None:
            return exits, False
        return [self._draft(node.then, exits, "group", node.on_failure)], True

    def _draft(self, sig: Signature[Any], after: list[Exit], inputs: Inputs,
               policy: OnFailure) -> Exit:
        queue = sig.queue or self.default_queue
        name = function_name(sig.fn)
        if not isinstance(sig.fn, str):  # the inputs come first when there are parents
            check_arguments(sig.fn, name, (None, *sig.args) if after else sig.args,
                            sig.kwargs, RQ_NAMES)
        options = dict(sig.options)
        if after:
            options["depends_on"] = Parents(tuple(
                Dependency(i, on_failure=policy, queue=q) for q, i in after), inputs)
        draft = self.encoder_for(queue).draft(name, sig.args, sig.kwargs, options)
        self.jobs.append((queue, draft))
        return queue, draft.id
