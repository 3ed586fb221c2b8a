"""Entry point: `python -m benchmarks [--quick] [--peers ...] [--scenarios ...] [--runs N]`."""

from __future__ import annotations

import argparse
import compileall
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks import report, scenarios, scenarios_control, scenarios_wait, scenarios_workflows
from benchmarks.common import RAW_DIR, REDIS_ARGS, RESULTS_DIR, ROOT, RedisServer, median
from benchmarks.peers import PEERS, TOOLS_REQUIREMENTS, TOOLS_VENV, Peer
from benchmarks.venvs import ensure_venv, freeze, package_versions

SCENARIOS = ("enqueue", "bulk", "drain", "sleep", "roundtrip", "scale", "sync", "big", "waiters",
             "threads", "startup", "cancel", "chains", "groups")
SCALE_PROCS = (1, 2, 4)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 run and small N (a few minutes in all)")
    ap.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated subset of: {','.join(PEERS)}"
    )
    ap.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {','.join(SCENARIOS)}",
    )
    ap.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3, quick 1)")
    ap.add_argument("--output", default=str(RESULTS_DIR / "latest.json"))
    ap.add_argument(
        "--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md and the chart"
    )
    args = ap.parse_args(argv)
    args.peers = _split(args.peers, PEERS)
    args.scenarios = _split(args.scenarios, SCENARIOS)
    args.runs = args.runs or (1 if args.quick else 3)
    return args


def _split(value: str, known: Any) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in known]
    if bad:
        raise SystemExit(f"unknown: {', '.join(bad)} (choose from {', '.join(known)})")
    return items


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {k for r in runs for k, v in r.items() if isinstance(v, int | float)}
    med = {k: median([r.get(k) for r in runs]) for k in sorted(keys)}
    med["runs"] = len(runs)
    return med


def plan(
    peer: Peer, sz: scenarios.Sizes, wanted: list[str]
) -> list[tuple[str, Callable[[scenarios.Ctx], dict[str, Any]]]]:
    steps: list[tuple[str, Callable[[scenarios.Ctx], dict[str, Any]]]] = []
    drain_n = scenarios.sized_drain(peer, sz.drain)
    if "enqueue" in wanted:
        steps.append(("enqueue", lambda c: scenarios.enqueue(c, peer, sz.enqueue, bulk=False)))
    if "bulk" in wanted and peer.has_bulk:
        steps.append(("bulk", lambda c: scenarios.enqueue(c, peer, sz.bulk, bulk=True)))
    if "drain" in wanted or "scale" in wanted:
        steps.append(("drain", lambda c: scenarios.drain(c, peer, drain_n, "noop", 1)))
    if "sleep" in wanted:
        n = scenarios.sized_sleep(peer, sz.sleep)
        steps.append(("sleep", lambda c: scenarios.drain(c, peer, n, "sleep", 1)))
    if "roundtrip" in wanted:
        steps.append(
            (
                "roundtrip",
                lambda c: scenarios.roundtrip(c, peer, sz.roundtrip, sz.roundtrip_seconds),
            )
        )
    if "scale" in wanted:
        for k in SCALE_PROCS[1:]:
            steps.append((f"scale{k}", functools.partial(_scale, peer=peer, n=drain_n, nprocs=k)))
    if "sync" in wanted and peer.sync_producer and peer.producer_scenarios:
        steps.append(("sync", lambda c: scenarios.enqueue(c, peer, sz.sync, False, "sync")))
    if "big" in wanted and peer.producer_scenarios:
        extra = ("--payload", str(sz.payload))
        steps.append(("big", lambda c: scenarios.enqueue(c, peer, sz.big, False, "big", extra)))
    if "waiters" in wanted and peer.async_waiters:
        steps.append(("waiters", lambda c: scenarios_wait.waiters(c, peer, sz.waiters)))
    if "threads" in wanted and peer.sync_producer:
        thread_jobs = scenarios.sized_drain(peer, sz.thread_jobs)  # not `n`: the lambdas
        steps.append(("threads",                                   # above capture that one
                      lambda c: scenarios_wait.threads(c, peer, thread_jobs, sz.threads)))
    if "startup" in wanted:
        steps.append(("startup", lambda c: scenarios_wait.startup(c, peer)))
    if "cancel" in wanted and peer.name == "aqueue":  # cancelling running jobs: aqueue's own
        steps.append(("cancel", lambda c: scenarios_control.cancel_latency(c, peer, 200)))
    if "chains" in wanted and peer.name == "aqueue":
        steps.append(("chains", lambda c: scenarios_workflows.chains(c, peer, sz.chains)))
    if "groups" in wanted and peer.name == "aqueue":
        steps.append(("groups", lambda c: scenarios_workflows.groups(
            c, peer, sz.groups, sz.group_size)))
    return steps


def _scale(c: scenarios.Ctx, *, peer: Peer, n: int, nprocs: int) -> dict[str, Any]:
    return scenarios.drain(c, peer, n, "noop", nprocs)


def machine_info() -> dict[str, Any]:
    with RedisServer(RAW_DIR) as r:
        redis_version = r.version()
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": redis_version,
    }


def compile_sources() -> None:
    """Write the bytecode of aqueue and the benchmarks, as installing a wheel does (pip
    compiles the peers' packages when it installs them): with PYTHONDONTWRITEBYTECODE set,
    an editable checkout would otherwise be compiled again at every worker start."""
    for folder in ("aqueue", "benchmarks"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def prepare(peers: list[Peer]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    compile_sources()
    for peer in peers:
        if peer.venv is not None:
            try:
                ensure_venv(peer.venv, peer.requirements, RAW_DIR / "pip.log")
            except subprocess.CalledProcessError as exc:
                print(f"  cannot set up {peer.name}: {exc}; see {RAW_DIR / 'pip.log'}", flush=True)
                continue
        info[peer.name] = {
            "label": peer.label,
            "venv": f".bench-venvs/{peer.venv}" if peer.venv else ".venv",
            "requirements": list(peer.requirements),
            "versions": package_versions(peer.python, peer.report_packages),
            "freeze": freeze(peer.python),
            "concurrency": peer.concurrency,
            "notes": list(peer.notes),
        }
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sz = scenarios.QUICK if args.quick else scenarios.FULL
    peers = [PEERS[p] for p in args.peers]
    started = time.monotonic()
    digest = _source_digest()
    print(f"preparing venvs for {', '.join(args.peers)}", flush=True)
    peer_info = prepare(peers)
    peers = [p for p in peers if p.name in peer_info]
    tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ctx = scenarios.Ctx(tag)
    results: dict[str, dict[str, Any]] = {}
    steps = [(peer, key, step) for peer in peers for key, step in plan(peer, sz, args.scenarios)]
    for peer, key, _ in steps:
        results.setdefault(peer.name, {})[key] = {"median": None, "runs": [], "errors": []}
    # Round-robin: run 1 of every step, then run 2 of every step..., so that load from
    # elsewhere on the machine spreads over all the libraries instead of hitting one.
    load = [os.getloadavg()[0]]
    for i in range(args.runs):
        for peer, key, step in steps:
            entry = results[peer.name][key]
            if entry["errors"]:
                continue  # a broken peer is not run again
            t0 = time.monotonic()
            try:
                entry["runs"].append(step(ctx))
            except Exception as exc:  # a broken peer must not stop the suite
                traceback.print_exc(file=sys.stderr)
                entry["errors"].append(f"{type(exc).__name__}: {str(exc)[-500:]}")
                continue
            print(
                f"  {peer.name:10} {key:9} run {i + 1}/{args.runs} "
                f"{time.monotonic() - t0:5.1f}s {report.brief(key, entry['runs'][-1])}",
                flush=True,
            )
        load.append(os.getloadavg()[0])
    for peer, key, _ in steps:
        entry = results[peer.name][key]
        entry["median"] = aggregate(entry["runs"]) if entry["runs"] else None
    for peer in peers:
        info = peer_info[peer.name]
        info["worker_command"] = sorted(ctx.commands.get(f"{peer.name}:worker", []))
        info["driver_commands"] = sorted(ctx.commands.get(f"{peer.name}:driver", []))
    out = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
            "quick": args.quick,
            "runs": args.runs,
            "sizes": vars(sz),
            "machine": machine_info(),
            "git": _git_rev(),
            "aqueue_source_sha256": digest,
            "redis_command": "redis-server --port PORT " + " ".join(a or "''" for a in REDIS_ARGS),
            "duration_s": round(time.monotonic() - started, 1),
            "load_average": [round(x, 2) for x in load],  # 1-min, before and after each round
            "logs": str(ctx.log_dir.relative_to(ROOT)),
        },
        "peers": peer_info,
        "results": results,
    }
    out_path = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {out_path}")
    print(report.markdown_table(out))
    if not args.no_docs:
        chart = RESULTS_DIR / "chart.png"
        tools = ensure_venv(TOOLS_VENV, TOOLS_REQUIREMENTS, RAW_DIR / "pip.log")
        subprocess.run(
            [str(tools / "bin/python"), str(ROOT / "benchmarks/chart.py"), out_path, str(chart)],
            check=False,
        )
        report.write_docs(out, chart if chart.exists() else None)
        print(f"wrote {report.DOCS.relative_to(ROOT)}")
    return 0


def _source_digest() -> str:
    """Identifies the aqueue source benchmarked, also when it is not committed yet."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "aqueue").rglob("*")):
        if path.suffix in (".py", ".lua"):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def _git_rev() -> str | None:
    res = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return res.stdout.strip() or None
