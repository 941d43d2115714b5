"""`quota-watch notify test`: check the notification channels."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from quota_watch.cli.common import ConfigOption, fail, load, run_async, setup_logging

app = typer.Typer(help="Notification channels.", no_args_is_help=True)


class SeverityChoice(StrEnum):
    """Alert severities."""

    critical = "critical"
    warning = "warning"
    info = "info"


@app.command(
    "test",
    epilog="Examples:\n\n  quota-watch notify test\n\n  quota-watch notify test --severity warning",
)
def notify_test(
    severity: Annotated[
        SeverityChoice, typer.Option("--severity", "-s", help="Severity of the test message.")
    ] = SeverityChoice.critical,
    config: ConfigOption = None,
) -> None:
    """Send a test message through every notifier that takes SEVERITY; report each result."""
    cfg = load(config)
    setup_logging(cfg, "warning")
    from quota_watch.notify.testsend import receivers, send_test

    now = datetime.now(UTC)
    targets = receivers(severity.value, cfg.settings.notifiers, now)
    if not targets:
        fail(f"no notifier takes {severity.value} messages (see [[notifiers]] severities)", 1)
    results = run_async(lambda: send_test(targets, severity.value, now))
    for (name, _), (ok, error) in zip(targets, results, strict=True):
        typer.echo(f"{name}: {'sent' if ok else f'FAILED: {error}'}")
    if not all(ok for ok, _ in results):
        raise typer.Exit(1)
