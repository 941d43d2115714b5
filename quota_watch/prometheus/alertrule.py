"""One Prometheus alerting rule and the duration syntax its file uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["AlertRule", "prometheus_duration", "runbook_anchor"]


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One Prometheus alerting rule, in the order its keys are written."""

    alert: str
    expr: str
    for_: timedelta
    severity: str
    summary: str
    description: str
    keep_firing_for: timedelta = timedelta(0)

    def document(self, runbook_url_base: str) -> dict[str, Any]:
        """The rule as the rule-file mapping (`for` and `keep_firing_for` left out when zero,
        as Prometheus does)."""
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ > timedelta(0):
            rule["for"] = prometheus_duration(self.for_)
        if self.keep_firing_for > timedelta(0):
            rule["keep_firing_for"] = prometheus_duration(self.keep_firing_for)
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{runbook_url_base}#{runbook_anchor(self.alert)}",
        }
        return rule


def runbook_anchor(alert: str) -> str:
    """The docs/runbook.md anchor of `alert`: its heading's GitHub slug (the name, lower case)."""
    return alert.lower()


def prometheus_duration(value: timedelta) -> str:
    """A duration in Prometheus' syntax ("5m", "1h30m", "0s"); whole seconds only."""
    seconds = int(value.total_seconds())
    if seconds != value.total_seconds() or seconds < 0:
        raise ValueError(f"{value} is not a whole, non-negative number of seconds")
    if seconds == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
