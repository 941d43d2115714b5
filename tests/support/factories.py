"""Test data shared by the alert tests: an AlertState with every field set."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from quota_watch.model import AlertState


def make_alert(now: datetime, **changes: Any) -> AlertState:
    """A critical threshold alert on Cloudflare Workers requests (104k of 100k), firing since
    `now` in the UTC day of `now`; `changes` replace any field."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = AlertState(
        fingerprint="0123456789abcdef",
        kind="threshold",
        alertname="QuotaFullyUsed",
        provider="cloudflare",
        account="cf-main",
        group=None,
        limit="workers_requests",
        resource=None,
        period_start=day,
        period_end=day + timedelta(days=1),
        status="firing",
        severity="critical",
        pending_runs=0,
        started_at=now,
        fired_at=now,
        resolved_at=None,
        last_notified_at=None,
        next_reminder_at=None,
        reminder_interval_seconds=14400.0,
        value=104_000.0,
        cap=100_000.0,
        ratio=1.04,
        forecast_value=None,
        exhausts_at=None,
        unit="count",
        updated_at=now,
    )
    return replace(base, **changes)
