"""Queue groups: the queues one script call may serve together.

On one server (or behind Sentinel) every queue of a worker is in one group, so one claim
script serves them all in priority order, and one BZPOPMIN waits on all their markers.
On a cluster each queue's keys live in its own slot, so each queue is a group of its own:
the worker claims from groups one after another, in priority order, and waits on each
group's marker on a connection of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aqueue.store.keys import QueueKeys
from aqueue.store.slots import key_slot


@dataclass(eq=False)
class QueueGroup:
    index: int
    queues: list[QueueKeys]  # in priority order
    keys: list[str] = field(default_factory=list)  # the queues' script blocks, in order
    markers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys = [key for q in self.queues for key in q.script_keys()]
        self.markers = [q.marker for q in self.queues]

    @property
    def route(self) -> str:
        """A key that routes this group's commands (all its keys share a slot)."""
        return self.queues[0].queued

    @property
    def names(self) -> str:
        return ", ".join(q.name for q in self.queues)


def build_groups(queues: Sequence[QueueKeys], cluster: bool) -> list[QueueGroup]:
    """Groups in priority order. On a cluster, consecutive queues that share a slot could
    share a group; with one hash tag per queue that never happens, so it is one per queue."""
    if not cluster:
        return [QueueGroup(0, list(queues))]
    groups: list[QueueGroup] = []
    for keys in queues:
        if groups and key_slot(groups[-1].route) == key_slot(keys.queued):
            groups[-1] = QueueGroup(groups[-1].index, [*groups[-1].queues, keys])
        else:
            groups.append(QueueGroup(len(groups), [keys]))
    return groups
