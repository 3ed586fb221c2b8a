"""What one cluster node says about the cluster: CLUSTER NODES, parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["primary", "replica"]
SlotRange = tuple[int, int]


@dataclass(frozen=True)
class ClusterNode:
    """One line of CLUSTER NODES."""

    id: str
    port: int
    role: Role
    primary_id: str | None  # the primary a replica follows
    slots: tuple[SlotRange, ...]  # inclusive ranges, for primaries
    flags: frozenset[str]

    @property
    def failing(self) -> bool:
        """Flagged as failing (``fail`` or ``pfail``) by the node that reported it."""
        return bool(self.flags & {"fail", "fail?"})

    def owns(self, slot: int) -> bool:
        return any(first <= slot <= last for first, last in self.slots)

    def topology(self) -> tuple[str, int, Role, str | None, tuple[SlotRange, ...]]:
        """The part every node must agree on (flags are each node's own opinion)."""
        return self.id, self.port, self.role, self.primary_id, self.slots


@dataclass(frozen=True)
class NodeView:
    """One node's CLUSTER NODES: every node it knows, and its own slot migrations."""

    myself: ClusterNode
    nodes: dict[str, ClusterNode]
    migrating: dict[int, str]  # slot -> node id it is migrating to
    importing: dict[int, str]  # slot -> node id it is importing from

    def topology(self) -> frozenset[tuple[str, int, Role, str | None, tuple[SlotRange, ...]]]:
        return frozenset(node.topology() for node in self.nodes.values())


def parse_cluster_nodes(text: str) -> NodeView:
    """Parse CLUSTER NODES (``<id> <ip:port@cport> <flags> <primary> <ping> <pong>
    <epoch> <link> <slot>...``)."""
    nodes: dict[str, ClusterNode] = {}
    myself: ClusterNode | None = None
    migrating: dict[int, str] = {}
    importing: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        node_id, address, flag_text, primary, _ping, _pong, _epoch, _link, *slot_fields = (
            line.split())
        host_port = address.split("@", 1)[0]
        port_text = host_port.rsplit(":", 1)[1]
        flags = frozenset(flag_text.split(","))
        ranges: list[SlotRange] = []
        for field in slot_fields:
            if field.startswith("["):  # [slot->-id] or [slot-<-id], on the myself line only
                slot_text, arrow, target = field.strip("[]").partition("->-")
                if arrow:
                    migrating[int(slot_text)] = target
                else:
                    slot_text, _, source = field.strip("[]").partition("-<-")
                    importing[int(slot_text)] = source
            elif "-" in field:
                first, last = field.split("-")
                ranges.append((int(first), int(last)))
            else:
                ranges.append((int(field), int(field)))
        node = ClusterNode(
            id=node_id, port=int(port_text) if port_text else 0,
            role="replica" if "slave" in flags else "primary",
            primary_id=None if primary == "-" else primary,
            slots=tuple(sorted(ranges)), flags=flags)
        nodes[node_id] = node
        if "myself" in flags:
            myself = node
    if myself is None:
        raise ValueError(f"CLUSTER NODES has no 'myself' line:\n{text}")
    return NodeView(myself, nodes, migrating, importing)


def addresses(text: str) -> list[str]:
    """The ``ip:port@cport`` field of every CLUSTER NODES line (to check announcements)."""
    return [line.split()[1] for line in text.splitlines() if line.strip()]
