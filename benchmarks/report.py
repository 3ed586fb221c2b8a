"""Markdown tables for the terminal and docs/benchmarks.md, from the results JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

DOCS = ROOT / "docs" / "benchmarks.md"
VERSIONS = ROOT / "benchmarks" / "results" / "versions.json"
COST_SCENARIOS = ("enqueue", "bulk", "drain", "sleep", "roundtrip")


def _num(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def _pct(v: float) -> str:
    return f"{v:.1f}%" if v < 10 else f"{v:.0f}%"


def brief(key: str, r: dict[str, Any]) -> str:
    if key in ("enqueue", "bulk", "sync", "big"):
        return f"{r['jobs_per_s']:,.0f} jobs/s, Redis CPU {r['redis_cpu_ms_per_1k']:,.0f} ms/1k"
    if key == "waiters":
        return (f"{r['woken']}/{r['n']} woke, p50 {_num(r['wake_p50_ms'], 1)} ms, p99 "
                f"{_num(r['wake_p99_ms'], 1)} ms, {r['producer_connections']} connections, "
                f"progress() {r['probe_ms_max']:.1f} ms")
    if key == "threads":
        return (f"{r['jobs_per_s']:,.0f} jobs/s, {r['completed']}/{r['n']} done, "
                f"{r['producer_connections']} connections")
    if key == "startup":
        return f"{r['startup_s']:.3f} s"
    if key == "cancel":  # benchmarks/scenarios_control.py
        return (f"cancel() to CancelledError p50 {r['cancel_p50_ms']:.2f} ms, p99 "
                f"{r['cancel_p99_ms']:.2f} ms (n={r['n']}, {r['busy']} other jobs running)")
    if key == "roundtrip":
        return f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms (n={r['n']})"
    if key in ("chains", "groups"):  # scenarios_workflows.py
        plain = (f" (plain jobs: {r['plain_jobs_per_s']:,.0f}/s, "
                 f"{r['plain_redis_cmds_per_job']:.1f} cmds)" if "plain_jobs_per_s" in r else "")
        return (f"{r['jobs']} jobs, {r['jobs_per_s']:,.0f} jobs/s end to end, "
                f"{r['redis_cmds_per_job']:.1f} Redis cmds/job{plain}")
    text = (
        f"{r['completed']}/{r['n']} jobs, {r['jobs_per_s']:,.0f} jobs/s from start, "
        f"{r['steady_jobs_per_s']:,.0f} steady, startup {r['startup_s']:.2f}s"
    )
    return text + (" STALLED" if r.get("stalled") else "")


def _med(out: dict[str, Any], peer: str, key: str) -> dict[str, Any] | None:
    entry = out["results"].get(peer, {}).get(key)
    return entry["median"] if entry else None


def _cell(out: dict[str, Any], peer: str, key: str, fmt: Callable[[dict[str, Any]], str]) -> str:
    entry = out["results"].get(peer, {}).get(key)
    if entry is None:
        return "—"
    if entry["errors"] and not entry["median"]:
        return "failed"
    m = entry["median"]
    text = fmt(m)
    if any(r.get("stalled") for r in entry["runs"]):
        text += " (stalled)"
    return text


def _n_suffix(m: dict[str, Any], default: int) -> str:
    n = int(m.get("n", default))
    return "" if n == default else f" (n={n:,})"


def markdown_table(out: dict[str, Any]) -> str:
    sizes = out["meta"]["sizes"]
    peers = list(out["results"])
    head = (
        "| library | enqueue, one at a time, jobs/s | bulk enqueue jobs/s "
        f"| drain {sizes['drain']:,} no-op jobs, jobs/s | worker CPU s / 1k jobs "
        "| Redis cmds / job | Redis CPU ms / 1k jobs | Redis bytes / queued job "
        f"| {sizes['sleep']:,} x sleep(0.05), jobs/s (% of 4,000) "
        "| enqueue→result p50 / p99 ms | drain with 1 / 2 / 4 worker processes, jobs/s |"
    )
    lines = [head, "|" + "---|" * 10]
    for p in peers:
        label = out["peers"][p]["label"]
        drain = _med(out, p, "drain") or {}
        scale = [_med(out, p, "drain"), _med(out, p, "scale2"), _med(out, p, "scale4")]
        scale_txt = " / ".join(_num(m["jobs_per_s"]) if m else "—" for m in scale)
        row = [
            label,
            _cell(out, p, "enqueue", lambda m: _num(m["jobs_per_s"])),
            _cell(out, p, "bulk", lambda m: _num(m["jobs_per_s"])),
            _cell(out, p, "drain", lambda m: _num(m["jobs_per_s"]) + _n_suffix(m, sizes["drain"])),
            _num(drain.get("worker_cpu_s_per_1k"), 2),
            _num(drain.get("redis_cmds_per_job"), 1),
            _num(drain.get("redis_cpu_ms_per_1k")),
            _num(drain.get("redis_mem_bytes_per_job")),
            _cell(
                out,
                p,
                "sleep",
                lambda m: (
                    f"{_num(m['steady_jobs_per_s'])} "
                    f"({_pct(m['pct_of_4000'])})" + _n_suffix(m, sizes["sleep"])
                ),
            ),
            _cell(out, p, "roundtrip", lambda m: f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f}"),
            scale_txt if any(scale) else "—",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cost_tables(out: dict[str, Any]) -> str:
    metrics = [
        ("Redis commands per job", "redis_cmds_per_job", 1),
        ("Redis CPU ms per 1,000 jobs", "redis_cpu_ms_per_1k", 0),
        ("Worker CPU s per 1,000 jobs (producer CPU for the enqueue scenarios)", None, 2),
    ]
    parts = []
    for title, key, digits in metrics:
        lines = [
            f"**{title}**",
            "",
            "| library | " + " | ".join(COST_SCENARIOS) + " |",
            "|---|" + "---|" * len(COST_SCENARIOS),
        ]
        for p in out["results"]:
            cells = []
            for s in COST_SCENARIOS:
                m = _med(out, p, s)
                k = key or (
                    "client_cpu_s_per_1k" if s in ("enqueue", "bulk") else "worker_cpu_s_per_1k"
                )
                cells.append(_num(m.get(k), digits) if m else "—")
            lines.append(f"| {out['peers'][p]['label']} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def scaling_table(out: dict[str, Any]) -> str:
    lines = ["| library | 1 process | 2 processes | 4 processes |", "|---|---|---|---|"]
    for p in out["results"]:
        cells = []
        for key in ("drain", "scale2", "scale4"):
            m = _med(out, p, key)
            cells.append(f"{_num(m['jobs_per_s'])} ({_num(m['steady_jobs_per_s'])})" if m else "—")
        lines.append(f"| {out['peers'][p]['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n:,} bytes"


def producer_tables(out: dict[str, Any]) -> str:
    """The producer-side scenarios: sync enqueue, large arguments, many waiters, threads,
    and worker start-up."""
    sizes = out["meta"]["sizes"]
    if "sync" not in sizes:
        return "(not measured in this run)"
    peers = list(out["results"])
    label = {p: out["peers"][p]["label"] for p in peers}
    payload = _kib(sizes["payload"])
    lines = [
        f"| library | sync enqueue, one at a time, jobs/s | enqueue with a {payload} argument, "
        "jobs/s | Redis CPU ms / 1k (same) | producer CPU s / 1k (same) "
        "| worker start-up: spawn to first job, s |",
        "|---|---|---|---|---|---|",
    ]
    for p in peers:
        lines.append("| " + " | ".join([
            label[p],
            _cell(out, p, "sync", lambda m: _num(m["jobs_per_s"])),
            _cell(out, p, "big", lambda m: _num(m["jobs_per_s"])),
            _cell(out, p, "big", lambda m: _num(m["redis_cpu_ms_per_1k"])),
            _cell(out, p, "big", lambda m: _num(m["client_cpu_s_per_1k"], 2)),
            _cell(out, p, "startup", lambda m: f"{m['startup_s']:.2f}"),
        ]) + " |")
    lines += [
        "",
        f"**{sizes['waiters']:,} coroutines waiting for their results on one producer** (the "
        "jobs are enqueued first, the waiters start, then the worker)",
        "",
        "| library | woken | producer connections to Redis | wake-up p50 / p99 ms "
        "| jobs' ends spread over, s | another call while they wait, ms "
        "| producer CPU s / 1k | Redis CPU ms / 1k |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in peers:
        if _med(out, p, "waiters") is None and not out["results"][p].get("waiters"):
            continue
        lines.append("| " + " | ".join([
            label[p],
            _cell(out, p, "waiters", lambda m: f"{_num(m['woken'])} / {_num(m['n'])}"),
            _cell(out, p, "waiters", lambda m: _num(m["producer_connections"])),
            _cell(out, p, "waiters", lambda m: f"{_num(m.get('wake_p50_ms'), 1)} / "
                                               f"{_num(m.get('wake_p99_ms'), 1)}"),
            _cell(out, p, "waiters", lambda m: _num(m.get("ends_span_s"), 2)),
            _cell(out, p, "waiters", lambda m: _num(m["probe_ms_max"], 1)),
            _cell(out, p, "waiters", lambda m: _num(m["client_cpu_s_per_1k"], 2)),
            _cell(out, p, "waiters", lambda m: _num(m["redis_cpu_ms_per_1k"])),
        ]) + " |")
    lines += [
        "",
        f"**{sizes['threads']} threads sharing one sync producer**, each enqueueing a job and "
        "waiting for its result in turn, a worker running",
        "",
        "| library | jobs | jobs/s | producer connections to Redis | round trip p50 / p99 ms "
        "| producer CPU s / 1k |",
        "|---|---|---|---|---|---|",
    ]
    for p in peers:
        if not out["results"][p].get("threads"):
            continue
        lines.append("| " + " | ".join([
            label[p],
            _cell(out, p, "threads", lambda m: f"{_num(m['completed'])} / {_num(m['n'])}"),
            _cell(out, p, "threads", lambda m: _num(m["jobs_per_s"])),
            _cell(out, p, "threads", lambda m: _num(m["producer_connections"])),
            _cell(out, p, "threads", lambda m: f"{_num(m.get('p50_ms'), 1)} / "
                                               f"{_num(m.get('p99_ms'), 1)}"),
            _cell(out, p, "threads", lambda m: _num(m["client_cpu_s_per_1k"], 2)),
        ]) + " |")
    return "\n".join(lines)


def versions_section(path: Path) -> str:
    """benchmarks/results/versions.json (``python -m benchmarks.versions``), if present."""
    if not path.exists():
        return "(not measured: run `python -m benchmarks.versions`)"
    data = json.loads(path.read_text())
    ref = data.get("ref") or data["instructions"]["ref"]
    shapes = {"noop": "`noop()`", "args": "`add(1, b=2)`"}
    lines = [f"| job | {ref}, instructions / enqueue | now | change "
             f"| {ref}, jobs/s | now | {ref}, CPU µs / job | now |",
             "|---|---|---|---|---|---|---|---|"]
    counts = data.get("instructions", {}).get("per_enqueue", {})
    for shape, label in shapes.items():
        ins = counts.get(shape, {})
        med = data.get("summary", {}).get(shape, {}).get("medians", {})
        old, new = med.get(ref, {}), med.get("now", {})
        lines.append("| " + " | ".join([
            label, _num(ins.get(ref)), _num(ins.get("now")),
            f"{ins['now'] / ins[ref] - 1:+.1%}" if ins else "—",
            _num(old.get("jobs_per_s")), _num(new.get("jobs_per_s")),
            _num(old.get("cpu_us_per_job")), _num(new.get("cpu_us_per_job")),
        ]) + " |")
    runs = data.get("runs", "?")
    return "\n".join(lines) + (
        f"\n\nInstructions: valgrind's callgrind, a run of 1,200 enqueues minus a run of 200, "
        f"per enqueue (one at a time, awaited, on a fresh redis-server). Time: medians of "
        f"{runs} interleaved runs of {data.get('n', 5000):,} enqueues; on this shared machine "
        "they move by ±30% from run to run, the instruction counts do not.")


def _versions(out: dict[str, Any]) -> str:
    lines = [
        "| library | venv | versions | concurrency | worker command |",
        "|---|---|---|---|---|",
    ]
    for info in out["peers"].values():
        vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
        cmd = "<br>".join(f"`{c}`" for c in info.get("worker_command", []))
        lines.append(
            f"| {info['label']} | `{info['venv']}` | {vers} | {info['concurrency']} | {cmd} |"
        )
    return "\n".join(lines)


def _errors(out: dict[str, Any]) -> str:
    lines = []
    for p, res in out["results"].items():
        for key, entry in res.items():
            lines += [f"- {p} / {key}: {e}" for e in entry["errors"]]
            missed = sum(r.get("missed_wakeups", 0) for r in entry["runs"])
            if missed:
                lines.append(
                    f"- {p} / {key}: {missed} of "
                    f"{sum(r['n'] for r in entry['runs'])} waits missed the completion "
                    "notice and re-read the job after 1 s (counted in the latencies)"
                )
            failed = [r for r in entry["runs"] if r.get("failed")]
            if failed:
                why = "; ".join(dict.fromkeys(e for r in failed for e in r.get("errors", [])))
                lines.append(
                    f"- {p} / {key}: {sum(r['failed'] for r in failed):,} of "
                    f"{sum(r['n'] for r in entry['runs']):,} waits failed over "
                    f"{len(entry['runs'])} run(s): {why[:300]}")
            lost = sum(r.get("jobs_lost", 0) for r in entry["runs"])
            if lost:
                lines.append(f"- {p} / {key}: {lost} of the jobs enqueued before the worker "
                             "started never ran (the figure is the first job that did)")
            stalled = [r for r in entry["runs"] if r.get("stalled")]
            if stalled:
                lines.append(
                    f"- {p} / {key}: stalled in {len(stalled)} run(s), "
                    f"{stalled[0]['completed']}/{stalled[0]['n']} jobs completed"
                )
    notes = [
        f"- {out['peers'][p]['label']}: {n}" for p in out["peers"] for n in out["peers"][p]["notes"]
    ]
    return "\n".join(lines + notes)


def features_table(out: dict[str, Any]) -> str:
    """Scenarios only aqueue runs (no peer has the feature): chains, groups, cancel."""
    rows = []
    chains, groups, cancel = (_med(out, "aqueue", k) for k in ("chains", "groups", "cancel"))
    for label, r in (("two-step chains (each step gets the previous result)", chains),
                     ("groups with a completion callback", groups)):
        if r is None:
            continue
        plain = (f"{r['plain_jobs_per_s']:,.0f} / {r['plain_redis_cmds_per_job']:.1f}"
                 if "plain_jobs_per_s" in r else "—")
        rows.append(f"| {label} | {r['jobs']:,} | {r['jobs_per_s']:,.0f} | "
                    f"{r['redis_cmds_per_job']:.1f} | {plain} |")
    text = ""
    if rows:
        text += ("| workflow | jobs | jobs/s end to end | Redis cmds / job | the same number of "
                 "plain jobs: jobs/s / cmds |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    if cancel is not None:
        text += (f"\nCancelling a running job (`job.cancel()` until the job's task sees its "
                 f"`CancelledError`, {cancel['busy']} other jobs running, n={cancel['n']}): "
                 f"p50 {cancel['cancel_p50_ms']:.2f} ms, p99 {cancel['cancel_p99_ms']:.2f} ms.\n")
    return text or "not run"


def write_docs(out: dict[str, Any], chart: Path | None) -> None:
    meta = out["meta"]
    m = meta["machine"]
    mode = "quick mode (`--quick`)" if meta["quick"] else "full mode"
    chart_md = ""
    if chart is not None:
        rel = os.path.relpath(chart, DOCS.parent)
        chart_md = f"![headline benchmarks]({rel})\n"
    text = f"""# Benchmarks

aqueue against other Python task queues on Redis, measured on the same machine in the same run.
How it is measured, and why that way: [benchmarks/README.md](../benchmarks/README.md).
Reproduce with `make bench` (or `.venv/bin/python -m benchmarks`); `make bench-quick` for a
short run. Raw numbers: `benchmarks/results/latest.json`.

This run: {meta["date"]}, {mode}, median of {meta["runs"]} run(s) per figure,
`{meta["command"]}` (took {meta["duration_s"]:.0f} s). The runs go round-robin (run 1 of
every library and scenario, then run 2...), so that other load on the machine spreads over
all the libraries; 1-minute load average at the start and after each round:
{", ".join(f"{x:.1f}" for x in meta.get("load_average", [])) or "not recorded"}.
Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["memory_gib"]} GiB, Linux {m["kernel"]},
Python {m["python"]}, Redis {m["redis"]} on loopback (a fresh
`{meta.get("redis_command", "redis-server")}` per scenario run).
Worker, producer and Redis share the same {m["nproc"]} CPUs.

{chart_md}
## Headline

{markdown_table(out)}

Drain throughput is timed from the worker process start to the last completion (start-up
included). The sleep column is the steady rate from the first job picked up to the last
completion. Worker CPU, Redis commands and Redis CPU in this table are from the no-op drain,
counted from the first job picked up to the last completion (the JSON also has them with
start-up included). Redis bytes per queued job is `used_memory` growth after pre-enqueueing
the drain's jobs. RQ runs one job at a time per process, so its ideal for the sleep scenario
is 20 jobs/s.

## Worker processes

The no-op drain with 1, 2 and 4 worker processes (each at the concurrency above), jobs/s from
the first worker's start to the last completion; in parentheses the steady rate from the first
claimed job. All processes share the machine's {m["nproc"]} CPUs with Redis.

{scaling_table(out)}

## Producers: sync, large arguments, many waiters, threads; worker start-up

{producer_tables(out)}

Producer connections are the TCP connections of the producer process to Redis (from its
own sockets, `/proc/PID/fd`), the most seen at the marks (all waiting; all woken). aqueue's
also show in `CLIENT LIST` by name (`aqueue:producer:QUEUE` and `...:results`). Wake-up
latency runs from the job's end (the job returns `time.time()`) to the moment the waiter
has the result (`time.time()` again), on the same host. "Another call" is the library's
own progress read (aqueue `counts()`), timed while the waiters wait; 10,000 ms means it did
not answer within 10 s. The jobs end as fast as the library's worker runs them (the
spread column): a faster worker hands the producer its wake-ups in a denser burst, and
the latency includes the time the producer takes to work through it. A waiter that has
no result after 30 s counts as failed (see Notes). Start-up runs from spawning the worker
process (`time.time()` in the orchestrator) to the first job's end (the job's
`time.time()`), with the jobs enqueued before the spawn.

## aqueue's own features: workflows and cancelling running jobs

{features_table(out)}

## aqueue's enqueue against its producer before options, signature checks and drafts

`python -m benchmarks.versions` runs commit 699d4eb's `AsyncQueue.enqueue` (the producer
before the new options, the signature check and the drafts of `client/encoding.py`) and
today's side by side, with the same interpreter, redis-py and hiredis.

{versions_section(VERSIONS)}

## Cost per job, every scenario

{cost_tables(out)}

## Versions and commands

{_versions(out)}

Producers: `<venv>/bin/python -m benchmarks.drivers.<library>_driver --scenario
enqueue|bulk|drain|roundtrip --url URL --n N [--kind noop|sleep]`, with the library's own
interpreter; every command line used is in the JSON (`peers.<name>.driver_commands`), and the
full `pip freeze` of each venv (`peers.<name>.freeze`).

## Notes

{_errors(out) or "- none"}
"""
    DOCS.write_text(text)
