"""``aqueue alerts``: evaluate alert rules on a schedule and post transitions to a
webhook (docs/alerts.md)."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from aqueue.cli.app import UrlOption, app, fail, run_async
from aqueue.client.admin import AsyncAdmin
from aqueue.store.server import ping


@app.command()
def alerts(
    rules: Annotated[Path, typer.Option("--rules", help="The rules: a TOML file (docs/alerts.md).",
                                        show_default=False)],
    webhook: Annotated[str, typer.Option(
        envvar="AQUEUE_ALERT_WEBHOOK", show_envvar=True, show_default=False,
        help="URL alerts are POSTed to as JSON (Slack-compatible 'text').")],
    interval: Annotated[float, typer.Option(help="Seconds between evaluations.")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Evaluate one round, then exit.")]
        = False,
    url: UrlOption = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Post an alert when a rule starts firing or is resolved. Run as many as you like:
    each alert is posted once."""
    from aqueue.observe.alert_rules import AlertRulesError, load_rules
    from aqueue.observe.alerts import AlertEngine
    from aqueue.observe.webhook import Webhook

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not interval > 0:
        fail(f"--interval must be positive, got {interval}", 2)
    try:
        loaded = load_rules(rules)
        notifier = Webhook(webhook)
    except (AlertRulesError, ValueError) as exc:
        fail(str(exc), 2)

    async def go() -> None:
        async with AsyncAdmin(url=url) as admin:
            await ping(admin.store)
            engine = AlertEngine(admin, loaded, notifier, interval=interval)
            if once:
                for alert in await engine.evaluate():
                    typer.echo(alert.text)
                return
            logging.getLogger("aqueue.alerts").info(
                "evaluating %d rule(s) every %g s, posting to %s", len(loaded), interval,
                notifier.describe())
            await engine.run()

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        run_async(go())
