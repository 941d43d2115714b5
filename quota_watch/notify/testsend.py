"""`notify test`: send a test message straight to every notifier taking a severity."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from quota_watch.model import Severity
from quota_watch.notify.config import NotifierSettings, notifier_name
from quota_watch.notify.deliver import send
from quota_watch.notify.routing import route
from quota_watch.notify.templates import render_test

Target = tuple[str, NotifierSettings]


def receivers(
    severity: Severity, notifiers: Sequence[NotifierSettings], now: datetime
) -> list[Target]:
    """The (name, notifier) pairs that take `severity` messages, in config order."""
    chosen = {r.notifier for r in route(severity, "test", notifiers, (), now)}
    named = [(notifier_name(n, i), n) for i, n in enumerate(notifiers)]
    return [(name, n) for name, n in named if name in chosen]


def skipped(
    severity: Severity, notifiers: Sequence[NotifierSettings], now: datetime
) -> list[tuple[str, str]]:
    """The (name, why) of each notifier a `severity` test message skips, in config order."""
    chosen = {name for name, _ in receivers(severity, notifiers, now)}
    out: list[tuple[str, str]] = []
    for index, notifier in enumerate(notifiers):
        name = notifier_name(notifier, index)
        if name in chosen:
            continue
        takes = ", ".join(notifier.severities)
        hint = notifier.severities[0]
        out.append((name, f"takes {takes} messages, not {severity} (try --severity {hint})"))
    return out


async def send_test(
    targets: Sequence[Target], severity: Severity, now: datetime
) -> list[tuple[bool, str | None]]:
    """Send the test message to each target at once; (sent, error) per target, in order."""
    title, text, markdown = render_test(severity, now)
    return list(
        await asyncio.gather(
            *(
                send(
                    n.url.get_secret_value(),
                    title,
                    markdown if n.format == "markdown" else text,
                    n.format,
                )
                for _, n in targets
            )
        )
    )
