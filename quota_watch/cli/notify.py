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
    """Send a test message through every notifier that takes SEVERITY; report each result.

    Notifiers that do not take SEVERITY are listed as skipped, with the reason.
    """
    cfg = load(config)
    setup_logging(cfg, "warning")
    from quota_watch.notify.testsend import receivers, send_test, skipped

    now = datetime.now(UTC)
    notifiers = cfg.settings.notifiers
    if not notifiers:
        fail(f"{cfg.source or 'embedded default'}: no [[notifiers]] configured", 1)
    targets = receivers(severity.value, notifiers, now)
    passed_over = skipped(severity.value, notifiers, now)
    for name, why in passed_over:
        typer.echo(f"{name}: skipped: {why}")
    if not targets:
        fail(f"no notifier takes {severity.value} messages (see [[notifiers]] severities)", 1)
    results = run_async(lambda: send_test(targets, severity.value, now))
    for (name, _), (ok, error) in zip(targets, results, strict=True):
        typer.echo(f"{name}: {'sent' if ok else f'FAILED: {error}'}")
    if not all(ok for ok, _ in results):
        raise typer.Exit(1)
