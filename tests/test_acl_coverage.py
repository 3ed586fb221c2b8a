"""Every Redis command a Lua script calls is granted by the ACL users docs/security.md
documents, for the role that runs the script: read statically, so that a script change
cannot outgrow the documented lines unnoticed (tests/test_acl.py runs the lines for real,
but only along the paths it exercises)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aqueue.store.scripts import script_source
from tests.test_acl import documented_acl_lines

SCRIPTS = Path(__file__).resolve().parents[1] / "aqueue" / "store" / "scripts"

# Who runs each script (aqueue/store/scripts/<name>.lua). A new script must be named here.
PRODUCER = frozenset({"enqueue", "watch", "counts", "cancel", "requeue_failed", "empty",
                      "delete", "flow_control", "cron_register", "cron_control",
                      "defer", "depend", "release"})  # release: after a cancel or delete
WORKER = frozenset({"claim", "ack", "idle", "renew", "register", "promote", "reap",
                    "cron_register", "cron_control", "cron_fire", "release",
                    "sample", "index_prune",  # the history plugin, in every worker
                    "job_set"})  # a job's meta, progress, callback error (aqueue.jobcontrol)
OPERATOR = frozenset({"workers", "search_index", "search_scan", "index_backfill",
                      "index_drop"})  # aqueue info and the dashboard

# A call with a literal command: redis.call("X", ...), redis.pcall('X', ...), and the
# prelude's call_chunked("X", key, items).
LITERAL_CALL = re.compile(r"""\b(?:redis\.p?call|call_chunked)\(\s*(['"])([A-Za-z|]+)\1""")
ANY_CALL = re.compile(r"""\b(?:redis\.p?call|call_chunked)\(\s*(?P<first>[^,)]*)""")
# Calls whose command is a variable, and what that variable can be.
DYNAMIC = {
    ("_prelude.lua", "cmd"): frozenset(),  # call_chunked itself: its callers are checked
    ("search_scan.lua", "registry[2]"): frozenset({"lrange", "zrange", "zrevrange"}),
}


def granted(line: str) -> set[str]:
    return {word[1:].lower() for word in line.split() if word.startswith("+")}


def commands_of(name: str) -> set[str]:
    """The commands the script as loaded (prelude and includes too) may call."""
    source = script_source(name)
    found = {match[2].lower() for match in LITERAL_CALL.finditer(source)}
    for (_, variable), commands in DYNAMIC.items():
        if re.search(rf"\b(?:redis\.p?call|call_chunked)\(\s*{re.escape(variable)}\s*,", source):
            found |= commands
    return found


def script_names() -> list[str]:
    return sorted(p.stem for p in SCRIPTS.glob("*.lua") if not p.stem.startswith("_"))


def test_every_script_has_a_role() -> None:
    unassigned = set(script_names()) - PRODUCER - WORKER - OPERATOR
    assert not unassigned, (f"say in {__file__} who runs {sorted(unassigned)} (producer, worker "
                            "or operator), and grant its commands in docs/security.md")


def test_every_call_names_its_command_or_is_known() -> None:
    unknown = []
    for path in sorted(SCRIPTS.glob("*.lua")):
        for match in ANY_CALL.finditer(path.read_text()):
            first = match["first"].strip()
            if first[:1] in "'\"" or (path.name, first) in DYNAMIC:
                continue
            line = path.read_text().count("\n", 0, match.start()) + 1
            unknown.append(f"{path.name}:{line}: {match[0]}")
    assert not unknown, ("a call whose command is not a string literal: list what it can be "
                         f"in DYNAMIC of {__file__}: {unknown}")


def test_the_scan_finds_what_it_must() -> None:
    """Guards the regular expressions: the enqueue script's known commands are found."""
    assert {"hincrby", "hset", "rpush", "zadd"} <= commands_of("enqueue")
    assert {"lrange", "zrevrange"} <= commands_of("search_scan")


@pytest.mark.parametrize("name", script_names())
def test_the_documented_users_grant_every_command_of(name: str) -> None:
    producer_line, worker_line, operator_line = documented_acl_lines()
    roles = {"producer": granted(producer_line), "worker": granted(worker_line),
             "operator": granted(producer_line) | granted(operator_line)}
    used = commands_of(name)
    for role, members in (("producer", PRODUCER), ("worker", WORKER), ("operator", OPERATOR)):
        if name in members:
            missing = sorted(used - roles[role])
            assert not missing, (f"{name}.lua calls {missing}, which the documented "
                                 f"aqueue-{role} ACL line in docs/security.md does not grant")
