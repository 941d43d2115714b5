"""Message templates: exact titles and bodies (plain text and markdown) for every message kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quota_watch.model import AlertState, OutboxMessage
from quota_watch.notify.templates import (
    render,
    render_digest,
    render_digest_messages,
    render_test,
)
from tests.support.factories import make_alert

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DAY_END = datetime(2026, 11, 23, tzinfo=UTC)


def alert(**changes: Any) -> AlertState:
    """A critical threshold alert on Cloudflare Workers requests, firing for 20 minutes."""
    since = NOW - timedelta(minutes=20)
    defaults = dict(group="edge-api", started_at=since, fired_at=since, forecast_value=250_000.0)
    return make_alert(NOW, **{**defaults, **changes})


def test_firing_threshold_text_and_markdown() -> None:
    title, text, markdown = render("firing", alert(), NOW, resets_at=DAY_END)
    assert title == "[CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k"
    assert text == (
        "Firing: cloudflare/cf-main workers_requests at 104% of 100k.\n"
        "\n"
        "Provider: cloudflare\n"
        "Account:  cf-main\n"
        "Group:    edge-api\n"
        "Limit:    workers_requests\n"
        "Value:    104k of 100k (104.0%)\n"
        "Forecast: 250k at period end (250.0% of cap)\n"
        "Resets:   in 14h (2026-11-23 00:00 UTC)\n"
        "Alert:    QuotaFullyUsed, critical, firing since 2026-11-22 09:40 UTC (20m ago)\n"
        "Action:   Reduce usage, raise the cap override if the plan changed, or add a shard "
        "account (see `quota-watch plan`)."
    )
    assert markdown == (
        "**Firing: cloudflare/cf-main workers_requests at 104% of 100k.**\n"
        "\n"
        "- **Provider:** cloudflare\n"
        "- **Account:** cf-main\n"
        "- **Group:** edge-api\n"
        "- **Limit:** workers_requests\n"
        "- **Value:** 104k of 100k (104.0%)\n"
        "- **Forecast:** 250k at period end (250.0% of cap)\n"
        "- **Resets:** in 14h (2026-11-23 00:00 UTC)\n"
        "- **Alert:** QuotaFullyUsed, critical, firing since 2026-11-22 09:40 UTC (20m ago)\n"
        "- **Action:** Reduce usage, raise the cap override if the plan changed, or add a "
        "shard account (see `quota-watch plan`)."
    )


def test_forecast_of_a_level_limit_with_resource_and_bytes() -> None:
    disk = alert(
        kind="forecast",
        alertname="QuotaPredictedFull",
        severity="warning",
        provider="host",
        account="vm1",
        group=None,
        limit="disk_used",
        resource="/",
        period_start=None,
        period_end=None,
        value=170e9,
        cap=200e9,
        ratio=0.85,
        forecast_value=None,
        exhausts_at=NOW + timedelta(days=3, hours=2),
        unit="bytes",
        fired_at=NOW - timedelta(hours=1, minutes=30),
    )
    title, text, _ = render("firing", disk, NOW, resets_at=None)
    assert title == "[WARNING] host/vm1 disk_used (/) projected full in 3d 2h"
    assert text == (
        "Firing: host/vm1 disk_used (/) projected full in 3d 2h.\n"
        "\n"
        "Provider: host\n"
        "Account:  vm1\n"
        "Limit:    disk_used\n"
        "Resource: /\n"
        "Value:    170 GB of 200 GB (85.0%)\n"
        "Forecast: full in 3d 2h (2026-11-25 12:00 UTC)\n"
        "Resets:   -\n"
        "Alert:    QuotaPredictedFull, warning, firing since 2026-11-22 08:30 UTC (1h 30m ago)\n"
        "Action:   Reduce usage, raise the cap override if the plan changed, or add a shard "
        "account (see `quota-watch plan`)."
    )


def test_cumulative_forecast_title_names_projection_by_period_end() -> None:
    projected = alert(kind="forecast", alertname="QuotaPredictedFull", severity="warning")
    projected = replace(projected, value=60_000.0, ratio=0.6, forecast_value=130_000.0)
    title, text, _ = render("firing", projected, NOW, resets_at=DAY_END)
    assert (
        title
        == "[WARNING] cloudflare/cf-main workers_requests projected at 130% of 100k by period end"
    )
    assert "Forecast: 130k at period end (130.0% of cap)\n" in text


def test_escalated_and_reminder_titles() -> None:
    assert render("escalated", alert(), NOW, resets_at=DAY_END)[0] == (
        "[CRITICAL] escalated: cloudflare/cf-main workers_requests at 104% of 100k"
    )
    title, text, _ = render("reminder", alert(), NOW + timedelta(hours=4), resets_at=DAY_END)
    assert title == "[CRITICAL] still firing: cloudflare/cf-main workers_requests at 104% of 100k"
    assert text.startswith("Still firing: cloudflare/cf-main workers_requests at 104% of 100k.\n")
    assert "firing since 2026-11-22 09:40 UTC (4h 20m ago)\n" in text
    assert (
        "Escalated from warning to critical: "
        in render("escalated", alert(), NOW, resets_at=None)[1]
    )


def test_resolved_carries_the_current_value_and_needs_no_action() -> None:
    resolved = alert(
        status="resolved",
        severity="warning",
        alertname="QuotaAlmostFull",
        value=74_600.0,
        ratio=0.746,
        forecast_value=None,
        resolved_at=NOW,
    )
    title, text, markdown = render("resolved", resolved, NOW, resets_at=DAY_END)
    assert title == "[RESOLVED] cloudflare/cf-main workers_requests at 75% of 100k"
    assert "Value:    74.6k of 100k (74.6%)\n" in text
    assert "Forecast: none (not enough data, or no cap to run out of)\n" in text
    assert text.endswith(
        "Alert:    QuotaAlmostFull, warning, fired 2026-11-22 09:40 UTC, "
        "resolved 2026-11-22 10:00 UTC\n"
        "Action:   None needed."
    )
    assert markdown.startswith("**Resolved: cloudflare/cf-main workers_requests at 75% of 100k.**")


def test_period_reset() -> None:
    reset = alert(value=1_200.0, ratio=0.012, forecast_value=None, status="resolved")
    title, text, _ = render("period_reset", reset, NOW, resets_at=DAY_END)
    assert title == (
        "[RESET] cloudflare/cf-main workers_requests full cleared, at 1% of 100k in the new period"
    )
    assert text.splitlines()[0] == (
        "Period reset, alert cleared: cloudflare/cf-main workers_requests full cleared, "
        "at 1% of 100k in the new period."
    )
    assert text.endswith(
        "Alert:    QuotaFullyUsed, critical, fired 2026-11-22 09:40 UTC, "
        "cleared by the new period\n"
        "Action:   None needed."
    )


def test_stale_alert() -> None:
    stale = alert(
        kind="stale",
        alertname="QuotaDataStale",
        severity="warning",
        limit=None,
        resource=None,
        group=None,
        period_start=None,
        period_end=None,
        value=2_100.0,
        cap=900.0,
        ratio=2_100.0 / 900.0,
        forecast_value=None,
        unit="seconds",
    )
    title, text, _ = render("firing", stale, NOW, resets_at=None)
    assert title == "[WARNING] cloudflare/cf-main data stale, last success 35 min ago"
    assert text == (
        "Firing: cloudflare/cf-main data stale, last success 35 min ago.\n"
        "\n"
        "Provider:     cloudflare\n"
        "Account:      cf-main\n"
        "Last success: 35 min ago (allowed: 15 min)\n"
        "Alert:        QuotaDataStale, warning, firing since 2026-11-22 09:40 UTC (20m ago)\n"
        "Action:       Check the daemon log / provider status."
    )
    assert render("resolved", stale, NOW, resets_at=None)[0] == (
        "[RESOLVED] cloudflare/cf-main data fresh again"
    )
    never_succeeded = replace(stale, value=0.0, ratio=0.0)
    title, text, _ = render("firing", never_succeeded, NOW, resets_at=None)
    assert title == "[WARNING] cloudflare/cf-main data stale"
    assert "Last success" not in text


def test_auth_alert() -> None:
    auth = alert(
        kind="auth",
        alertname="QuotaCollectorAuthFailed",
        limit=None,
        group=None,
        value=3.0,
        cap=None,
        ratio=None,
        forecast_value=None,
    )
    title, text, markdown = render("firing", auth, NOW, resets_at=None)
    assert title == "[CRITICAL] cloudflare/cf-main credentials rejected"
    assert text == (
        "Firing: cloudflare/cf-main credentials rejected.\n"
        "\n"
        "Provider:     cloudflare\n"
        "Account:      cf-main\n"
        "Failed polls: 3 in a row\n"
        "Alert:        QuotaCollectorAuthFailed, critical, firing since 2026-11-22 09:40 UTC "
        "(20m ago)\n"
        "Action:       Renew the token, then reload or run `quota-watch account resume`."
    )
    assert (
        "- **Action:** Renew the token, then reload or run `quota-watch account resume`."
        in markdown
    )
    assert render("resolved", auth, NOW, resets_at=None)[0] == (
        "[RESOLVED] cloudflare/cf-main credentials accepted again"
    )


def test_without_a_cap_values_are_absolute() -> None:
    uncapped = alert(cap=None, ratio=None, forecast_value=None, resource="my-worker")
    title, text, _ = render("firing", uncapped, NOW, resets_at=DAY_END)
    assert title == "[CRITICAL] cloudflare/cf-main workers_requests (my-worker) at 104k"
    assert "Value:    104k (no known cap)\n" in text


def test_render_refuses_test_and_digest_kinds() -> None:
    with pytest.raises(ValueError, match="render_test"):
        render("test", alert(), NOW, resets_at=None)
    with pytest.raises(ValueError, match="render_digest"):
        render("digest", alert(), NOW, resets_at=None)


def test_render_test() -> None:
    assert render_test("warning", NOW) == (
        "[TEST] quota-watch test notification (warning)",
        "This is a test message from quota-watch, sent 2026-11-22 10:00 UTC.\n"
        "If you can read it, warning alerts reach this notifier.",
        "**[TEST] quota-watch test notification (warning)**\n\n"
        "This is a test message from quota-watch, sent 2026-11-22 10:00 UTC.\n"
        "If you can read it, warning alerts reach this notifier.",
    )


def _kv_alert() -> AlertState:
    return alert(
        fingerprint="fedcba9876543210",
        severity="warning",
        alertname="QuotaAlmostFull",
        limit="kv_writes",
        value=850.0,
        cap=1_000.0,
        ratio=0.85,
        forecast_value=None,
        fired_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(minutes=5),
    )


def test_render_digest() -> None:
    cf, kv = alert(updated_at=NOW - timedelta(minutes=20)), _kv_alert()
    resolved = replace(kv, limit="d1_rows_read", status="resolved", ratio=0.5, value=500.0)
    title, text, markdown = render_digest([("firing", cf), ("resolved", resolved)], [cf, kv], NOW)
    assert title == "[DIGEST] quota-watch: 2 changes, 2 still open"
    assert text == (
        "quota-watch digest, 2026-11-22 10:00 UTC\n"
        "\n"
        "Changes (2):\n"
        "- 2026-11-22 09:40 UTC [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k\n"
        "- 2026-11-22 09:55 UTC [RESOLVED] cloudflare/cf-main d1_rows_read at 50% of 1k\n"
        "\n"
        "Still open (2):\n"
        "- [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k, "
        "since 2026-11-22 09:40 UTC\n"
        "- [WARNING] cloudflare/cf-main kv_writes at 85% of 1k, since 2026-11-22 08:00 UTC"
    )
    assert markdown == (
        "**quota-watch digest, 2026-11-22 10:00 UTC**\n"
        "\n"
        "**Changes (2)**\n"
        "\n"
        "- 2026-11-22 09:40 UTC [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k\n"
        "- 2026-11-22 09:55 UTC [RESOLVED] cloudflare/cf-main d1_rows_read at 50% of 1k\n"
        "\n"
        "**Still open (2)**\n"
        "\n"
        "- [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k, "
        "since 2026-11-22 09:40 UTC\n"
        "- [WARNING] cloudflare/cf-main kv_writes at 85% of 1k, since 2026-11-22 08:00 UTC"
    )


def _message(id: int, title: str, created_at: datetime) -> OutboxMessage:
    return OutboxMessage(
        id=id,
        notifier="mail",
        fingerprint="0123456789abcdef",
        kind="firing",
        severity="warning",
        title=title,
        body_text="",
        body_markdown="",
        created_at=created_at,
        next_attempt_at=NOW,
        attempts=0,
        sent_at=None,
        last_error=None,
    )


def test_render_digest_messages_orders_changes_oldest_first_and_handles_none_open() -> None:
    later = _message(2, "[WARNING] b", NOW - timedelta(minutes=5))
    earlier = _message(7, "[WARNING] a", NOW - timedelta(minutes=50))
    title, text, _ = render_digest_messages([later, earlier], [], NOW)
    assert title == "[DIGEST] quota-watch: 2 changes, 0 still open"
    assert text == (
        "quota-watch digest, 2026-11-22 10:00 UTC\n"
        "\n"
        "Changes (2):\n"
        "- 2026-11-22 09:10 UTC [WARNING] a\n"
        "- 2026-11-22 09:55 UTC [WARNING] b\n"
        "\n"
        "Still open (0):\n"
        "- none"
    )
    assert render_digest_messages([earlier], [], NOW)[0] == (
        "[DIGEST] quota-watch: 1 change, 0 still open"
    )


def test_level_forecast_says_the_horizon_not_the_period_end() -> None:
    level = alert(
        kind="forecast",
        alertname="QuotaPredictedFull",
        severity="warning",
        period_start=None,
        period_end=None,
        forecast_value=130_000.0,
    )
    title, text, _ = render("firing", level, NOW, resets_at=None, horizon=timedelta(days=7))
    assert title.endswith("projected at 130% of 100k in 7d")
    assert "Forecast: 130k in 7d (130.0% of cap)" in text
    assert "period end" not in text + title
    title, _, _ = render("firing", level, NOW, resets_at=None)
    assert title.endswith("projected at 130% of 100k at the forecast horizon")
