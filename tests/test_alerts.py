"""Alerts: rules evaluated over real queues, posted to a webhook receiver on loopback, on
transition only, once however many engines run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from aqueue import AsyncQueue
from aqueue.client.admin import AsyncAdmin
from aqueue.observe.alert_rules import AlertRulesError, Rule, load_rules, parse_rules
from aqueue.observe.alerts import Alert, AlertEngine
from aqueue.observe.webhook import Webhook
from tests import observe_tasks
from tests.conftest import BurstRunner, WorkerFactory
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 0.25


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[AsyncAdmin]:
    async with AsyncAdmin(url=redis_url) as a:
        yield a


def rules(text: str) -> list[Rule]:
    import tomllib

    return parse_rules(tomllib.loads(text))


async def rounds(engine: AlertEngine, count: int) -> list[Alert]:
    """``count`` evaluations, each in a round of its own; the alerts posted."""
    posted: list[Alert] = []
    for _ in range(count):
        now = time.time()
        await asyncio.sleep(engine.interval - now % engine.interval + 0.02)
        posted += await engine.evaluate()
    return posted


def engine_for(admin: AsyncAdmin, receiver: Receiver, text: str) -> AlertEngine:
    return AlertEngine(admin, rules(text), Webhook(receiver.url), interval=INTERVAL)


async def test_a_backlog_alert_fires_once_then_resolves_once(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "backlog"
        kind = "oldest_queued"
        queues = ["{queue.name}"]
        older_than = 0.3
    """)
    await queue.enqueue(observe_tasks.noop)
    await rounds(engine, 6)
    await queue.empty()
    await rounds(engine, 3)
    assert receiver.states() == [(f"backlog:{queue.name}", "firing"),
                                 (f"backlog:{queue.name}", "resolved")]


async def test_the_post_is_json_with_a_slack_text_field(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """)
    await rounds(engine, 1)
    (post,) = receiver.posts
    assert post["text"] == (f"[FIRING] unserved on queue {queue.name}: 0 live worker(s) "
                            "serve it; 0 job(s) waiting")
    assert {k: post[k] for k in ("alert", "rule", "kind", "queue", "state", "value")} == {
        "alert": f"unserved:{queue.name}", "rule": "unserved", "kind": "no_worker",
        "queue": queue.name, "state": "firing", "value": 0.0}
    assert abs(post["at"] - time.time()) < 60


async def test_a_queue_without_a_live_worker_fires_until_one_starts(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver,
        running_worker: WorkerFactory) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """)
    await rounds(engine, 1)
    async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
        await worker.started.wait()
        await rounds(engine, 2)
    assert [state for _, state in receiver.states()] == ["firing", "resolved"]


async def test_only_with_jobs_leaves_an_idle_queue_alone(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "stuck"
        kind = "no_worker"
        queues = ["{queue.name}"]
        only_with_jobs = true
    """)
    await rounds(engine, 2)
    assert receiver.states() == []
    await queue.enqueue(observe_tasks.noop)
    await rounds(engine, 1)
    assert receiver.states() == [(f"stuck:{queue.name}", "firing")]


async def test_a_failure_rate_over_its_window_fires_and_resolves_when_the_window_moves_on(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver,
        run_burst: BurstRunner) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "failing"
        kind = "failure_rate"
        queues = ["{queue.name}"]
        above = 0.5
        window = 1.0
        min_jobs = 4
    """)
    await rounds(engine, 1)  # the first reading: nothing to compare with yet
    for _ in range(3):
        await queue.enqueue(observe_tasks.fail, "no")
    await queue.enqueue(observe_tasks.noop)
    await run_burst(queue.name, imports=["tests.observe_tasks"])
    fired = await rounds(engine, 1)
    assert [(a.state, a.value) for a in fired] == [("firing", 0.75)]
    assert fired[0].summary.startswith("75% of jobs failed (3 of 4) in the last ")
    resolved = await rounds(engine, 6)  # 1.5 s: the failures are out of the window
    assert [a.state for a in resolved] == ["resolved"]


async def test_fewer_jobs_than_min_jobs_do_not_fire(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver,
        run_burst: BurstRunner) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "failing"
        kind = "failure_rate"
        queues = ["{queue.name}"]
        above = 0.1
        min_jobs = 5
    """)
    await rounds(engine, 1)
    await queue.enqueue(observe_tasks.fail, "one failure of one job")
    await run_burst(queue.name, imports=["tests.observe_tasks"])
    assert await rounds(engine, 1) == []


async def test_a_rule_for_every_queue_covers_each_queue_found(
        admin: AsyncAdmin, receiver: Receiver, redis_url: str) -> None:
    for name in ("first", "second"):
        async with AsyncQueue(name, url=redis_url) as q:
            await q.enqueue(observe_tasks.noop)
    engine = engine_for(admin, receiver, """
        [[rule]]
        name = "unserved"
        kind = "no_worker"
    """)
    await rounds(engine, 1)
    assert sorted(receiver.states()) == [("unserved:first", "firing"),
                                         ("unserved:second", "firing")]


async def test_a_post_the_webhook_refused_is_made_again_next_round(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """)
    receiver.fail_next(1)
    assert await rounds(engine, 1) == []
    await rounds(engine, 2)
    assert receiver.refused == 1
    assert receiver.states() == [(f"unserved:{queue.name}", "firing")]


async def test_engines_side_by_side_post_each_transition_once(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver, redis_url: str) -> None:
    text = f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """
    async with AsyncAdmin(url=redis_url) as other_admin:
        engines = [engine_for(admin, receiver, text), engine_for(other_admin, receiver, text)]
        for _ in range(4):
            await asyncio.gather(*(rounds(engine, 1) for engine in engines))
    assert receiver.states() == [(f"unserved:{queue.name}", "firing")]


class SlowWebhook(Webhook):
    async def send(self, payload: dict[str, Any]) -> None:
        await asyncio.sleep(1.0)  # longer than a few rounds
        await super().send(payload)


async def test_a_slow_post_is_not_overtaken_by_another_engine_in_the_next_rounds(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver, redis_url: str) -> None:
    text = f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """
    slow = AlertEngine(admin, rules(text), SlowWebhook(receiver.url), interval=INTERVAL)
    async with AsyncAdmin(url=redis_url) as other_admin:
        fast = engine_for(other_admin, receiver, text)
        posting = asyncio.ensure_future(rounds(slow, 1))
        await asyncio.sleep(INTERVAL)  # the slow engine has the alert and is posting
        overtaken = await rounds(fast, 4)
        await posting
    assert overtaken == []
    assert receiver.states() == [(f"unserved:{queue.name}", "firing")]


async def test_the_states_say_which_alerts_fire(
        queue: AsyncQueue, admin: AsyncAdmin, receiver: Receiver) -> None:
    engine = engine_for(admin, receiver, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]

        [[rule]]
        name = "backlog"
        kind = "oldest_queued"
        queues = ["{queue.name}"]
        older_than = 60
    """)
    await rounds(engine, 1)
    assert await engine.states() == {f"unserved:{queue.name}": "firing",
                                     f"backlog:{queue.name}": "ok"}


# -- the command -------------------------------------------------------------------------


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    return path


async def test_alerts_processes_side_by_side_post_once_each_transition(
        queue: AsyncQueue, redis_url: str, receiver: Receiver, tmp_path: Path,
        running_worker: WorkerFactory) -> None:
    path = write_rules(tmp_path, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """)
    command = [sys.executable, "-m", "aqueue", "alerts", "--rules", str(path), "--url",
               redis_url, "--interval", "0.3"]
    env = {**os.environ, "AQUEUE_ALERT_WEBHOOK": receiver.url}
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
    try:
        await anyio.to_thread.run_sync(receiver.wait_for, 1)
        async with running_worker(queue.name, imports=["tests.observe_tasks"]) as worker:
            await worker.started.wait()
            await anyio.to_thread.run_sync(receiver.wait_for, 2)
            await asyncio.sleep(1.0)  # a few more rounds: nothing more is posted
    finally:
        for process in processes:
            process.terminate()
        logs = [process.communicate(timeout=30)[1] for process in processes]
    assert receiver.states() == [(f"unserved:{queue.name}", "firing"),
                                 (f"unserved:{queue.name}", "resolved")]
    assert all("secret" not in log for log in logs)  # the webhook's path is not logged
    assert [process.returncode for process in processes] == [0, 0, 0]


def aqueue(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aqueue", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)


async def test_alerts_once_prints_what_it_posted(
        queue: AsyncQueue, redis_url: str, receiver: Receiver, tmp_path: Path) -> None:
    path = write_rules(tmp_path, f"""
        [[rule]]
        name = "unserved"
        kind = "no_worker"
        queues = ["{queue.name}"]
    """)
    done = await anyio.to_thread.run_sync(lambda: aqueue(
        "alerts", "--rules", str(path), "--webhook", receiver.url, "--url", redis_url,
        "--once"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"[FIRING] unserved on queue {queue.name}: 0 live worker(s) serve "
                           "it; 0 job(s) waiting\n")


def test_alerts_refuses_a_webhook_that_is_not_http(tmp_path: Path) -> None:
    path = write_rules(tmp_path, '[[rule]]\nname = "x"\nkind = "no_worker"\n')
    done = aqueue("alerts", "--rules", str(path), "--webhook", "ftp://example.invalid/x",
                  "--url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: the webhook must be an http:// or https:// URL, got "
                                   "'ftp://example.invalid/...'")


def test_alerts_names_the_bad_rule(tmp_path: Path) -> None:
    path = write_rules(tmp_path, '[[rule]]\nname = "late"\nkind = "oldest_queued"\n')
    done = aqueue("alerts", "--rules", str(path), "--webhook", "http://127.0.0.1:1/",
                  "--url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: {path}: rule 1 (late): oldest_queued needs "
                                   "'older_than'")


# -- the rules file ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("", "the rules: no rules (add [[rule]] tables)"),
    ('[[rule]]\nkind = "no_worker"\n', "rule 1: 'name' is missing (a string)"),
    ('[[rule]]\nname = "a b"\nkind = "no_worker"\n', "rule 1 (a b): invalid alert name"),
    ('[[rule]]\nname = "x"\nkind = "slow"\n', "rule 1 (x): 'kind' must be one of "
                                              "failure_rate, oldest_queued, no_worker, got 'slow'"),
    ('[[rule]]\nname = "x"\nkind = "no_worker"\nolder_than = 3\n',
     "rule 1 (x): unknown key(s) older_than for kind no_worker (it takes only_with_jobs)"),
    ('[[rule]]\nname = "x"\nkind = "oldest_queued"\nolder_than = "ten"\n',
     "rule 1 (x): 'older_than' must be a number, got 'ten'"),
    ('[[rule]]\nname = "x"\nkind = "failure_rate"\nabove = 10\n',
     "rule 1 (x): 'above' is a fraction below 1 (0.1 for 10%), got 10.0"),
    ('[[rule]]\nname = "x"\nkind = "failure_rate"\nabove = 0.1\nmin_jobs = 2.5\n',
     "rule 1 (x): 'min_jobs' must be a whole number, got 2.5"),
    ('[[rule]]\nname = "x"\nkind = "no_worker"\nqueues = ["a:b"]\n',
     "rule 1 (x): invalid queue name 'a:b'"),
    ('[[rule]]\nname = "x"\nkind = "no_worker"\n[[rule]]\nname = "x"\nkind = "no_worker"\n',
     "rule 2: the name 'x' is taken by an earlier rule"),
    ('interval = 3\n', "unknown top-level key(s) interval"),
])
def test_a_bad_rules_file_is_refused_naming_the_rule_and_key(text: str, message: str) -> None:
    with pytest.raises(AlertRulesError) as refused:
        rules(text)
    assert message in str(refused.value)


def test_a_rules_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "[[rule]\n")
    with pytest.raises(AlertRulesError, match=r"alerts.toml is not valid TOML"):
        load_rules(path)
