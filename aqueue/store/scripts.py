"""The Lua scripts, one per state transition, each run by SHA (``Store.script``).

Each ``scripts/<name>.lua`` is prefixed with a shebang line (Redis 7 script flags) and
``scripts/_prelude.lua``. Flags matter under memory pressure: a script that may write is
refused up front when Redis is at ``maxmemory`` (so a claim never half-runs), except the
few marked ``allow-oom`` that must keep working then (renewing leases, so that a worker
waiting for memory does not lose the jobs it holds).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

_FLAGS = {"renew": "allow-oom", "register": "allow-oom", "counts": "no-writes",
          "idle": "no-writes", "workers": "no-writes"}


@cache
def script_source(name: str) -> str:
    folder = resources.files("aqueue.store") / "scripts"
    prelude = (folder / "_prelude.lua").read_text()
    shebang = f"#!lua flags={_FLAGS[name]}" if name in _FLAGS else "#!lua"
    return f"{shebang}\n{prelude}\n{(folder / f'{name}.lua').read_text()}"


@cache
def script_sha(name: str) -> str:
    return hashlib.sha1(script_source(name).encode()).hexdigest()
