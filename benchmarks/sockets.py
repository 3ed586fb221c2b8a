"""Counting a producer's connections to Redis: its own sockets (any library), and Redis's
CLIENT LIST by client name (aqueue names its connections)."""

from __future__ import annotations

import os
from typing import Any

ESTABLISHED = "01"


def process_connections(pid: int, port: int) -> int:
    """TCP connections of process `pid` (all its threads) to `port` on this host."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == ESTABLISHED and fields[9] in inodes:
                count += 1
    return count


def named_clients(client: Any, prefix: str) -> dict[str, int]:
    """How many connections Redis has per client name starting with `prefix`."""
    counts: dict[str, int] = {}
    for entry in client.client_list():
        name = entry.get("name") or ""
        if name.startswith(prefix):
            counts[name] = counts.get(name, 0) + 1
    return counts
