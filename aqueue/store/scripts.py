"""The Lua scripts, one per state transition, each run by SHA (``Store.script``).

Each ``scripts/<name>.lua`` is loaded with a shebang line (Redis 7 script flags),
``scripts/_prelude.lua``, and the include files it names on a line ``-- uses: a, b``
(``scripts/_a.lua``, ``scripts/_b.lua``): a feature's Lua helpers live in its own include,
like BullMQ's ``includes/``, and a script pays to load only what it uses.

Flags matter under memory pressure: a script that may write is refused up front when
Redis is at ``maxmemory`` (so a claim never half-runs), except the few marked
``allow-oom`` that must keep working then (renewing leases and the worker registry, so
that a worker waiting for memory does not lose the jobs it holds).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources

_FLAGS = {"renew": "allow-oom", "register": "allow-oom", "counts": "no-writes",
          "idle": "no-writes", "workers": "no-writes",
          # the dashboard's reads keep working when Redis is full (search only unindexes)
          "search_scan": "no-writes", "search_index": "allow-oom", "index_prune": "allow-oom"}
_USES = re.compile(r"^-- uses: *(.+)$", re.MULTILINE)


@cache
def script_source(name: str) -> str:
    folder = resources.files("aqueue.store") / "scripts"
    body = (folder / f"{name}.lua").read_text()
    parts = [(folder / "_prelude.lua").read_text()]
    uses = _USES.search(body)
    if uses:
        for include in (u.strip() for u in uses.group(1).split(",")):
            parts.append((folder / f"_{include}.lua").read_text())
    shebang = f"#!lua flags={_FLAGS[name]}" if name in _FLAGS else "#!lua"
    return "\n".join([shebang, *parts, body])


@cache
def script_sha(name: str) -> str:
    return hashlib.sha1(script_source(name).encode()).hexdigest()
