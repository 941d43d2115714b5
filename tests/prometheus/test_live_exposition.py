"""The daemon's pre-rendered exposition: byte for byte what render() makes of the same facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    HeartbeatFacts,
    LiveExposition,
    PoolFacts,
    PoolLimitFacts,
    Snapshot,
    render,
)
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.models import StoredReading

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MONTH = datetime(2026, 11, 1, tzinfo=UTC)
NEXT = datetime(2026, 12, 1, tzinfo=UTC)


def reading(account: str, limit: str, unit: str, value: float, **kw: object) -> StoredReading:
    fields: dict[str, object] = {
        "provider": "cloudflare" if account != "vm" else "host",
        "account": account,
        "limit": limit,
        "resource": None,
        "unit": unit,
        "measure": "level",
        "value": value,
        "cap": None,
        "cap_source": "none",
        "period_start": None,
        "period_end": None,
        "ts": NOW,
    }
    fields.update(kw)
    return StoredReading(**fields)  # type: ignore[arg-type]


def status(account: str, runs: int, failures: int, success: bool) -> AccountStatus:
    return AccountStatus(
        provider="cloudflare" if account != "vm" else "host",
        account=account,
        last_run_at=NOW,
        last_success_at=NOW - timedelta(minutes=5) if success else None,
        last_outcome="success" if success else "auth",
        last_error=None,
        last_duration_seconds=0.25,
        runs_total=runs,
        failures_total=failures,
        consecutive_failures=0,
    )


ACCOUNTS = [
    AccountFacts("cloudflare", "a-main", "pool", 300.0),
    AccountFacts("cloudflare", "b-spare", "pool", 1e6),
    AccountFacts("host", "vm", None, 60.0),
    AccountFacts("cloudflare", 'weird"name\\', None, 60.0),
]
READINGS = {
    "a-main": [
        reading("a-main", "requests", "count", 5e4, cap=1e5, cap_source="catalogue"),
        reading("a-main", "storage", "bytes", 2.5e9, cap=1e10, resource="bucket-1"),
        reading("a-main", "storage", "bytes", 0.0, cap=0.0, resource="bucket-2"),
    ],
    "b-spare": [
        reading("b-spare", "egress", "bytes", 3e11, cap=1e12, period_start=MONTH, period_end=NEXT),
        reading("b-spare", "requests", "count", 1e-7),
    ],
    "vm": [reading("vm", "cpu_time", "seconds", 3600.5, cap=36000.0)],
    # 'weird"name\\' has no readings yet
}
FORECASTS = {
    ("a-main", "requests", None): ForecastFacts(1.2, NOW + timedelta(hours=5), 7200.0),
    ("b-spare", "egress", None): ForecastFacts(0.4, None, None),
    ("a-main", "storage", "bucket-1"): ForecastFacts(None, None, 60.0),
}
STATUSES = [status("a-main", 10, 1, True), status("vm", 3, 3, False)]


def daemon_wide(
    live: LiveExposition | None, readings: dict[str, list[StoredReading]] = READINGS
) -> Snapshot:
    """The daemon-wide facts, with or without the accounts' facts for render() to use."""
    every = [r for account in sorted(readings) for r in readings[account]]
    return Snapshot(
        readings=every if live is None else (),
        statuses=STATUSES if live is None else (),
        accounts=sorted(ACCOUNTS, key=lambda a: a.account) if live is None else (),
        forecasts=FORECASTS if live is None else {},
        alerts_firing={"warning": 1},
        notifications_sent={"ops": 2},
        notifications_failed={},
        outbox_depth={"ops": 1},
        rate_limits={("cloudflare", "a-main"): RateLimitStatus(10, 1200, NEXT)},
        heartbeat=HeartbeatFacts(NOW, 2),
        process={"process_resident_memory_bytes": 5e7, "process_cpu_seconds": 1.5},
        pools=[PoolFacts("cloudflare", "pool", 2, [PoolLimitFacts("requests", 0.5, 0.75, 2)])],
        live=live,
    )


def fill(live: LiveExposition) -> None:
    """Feed `live` the facts in an order unlike the exposition's."""
    live.set_accounts(list(reversed(ACCOUNTS)))
    for s in reversed(STATUSES):
        live.set_status(s)
    for account, readings in READINGS.items():
        live.set_series(account, readings, FORECASTS)


@pytest.mark.parametrize("openmetrics", [False, True])
def test_live_exposition_is_render_byte_for_byte(openmetrics: bool) -> None:
    live = LiveExposition()
    fill(live)
    expected = render(daemon_wide(None), openmetrics)
    assert render(daemon_wide(live), openmetrics) == expected
    assert b'quota_watch_forecast_utilization_ratio{account="a-main"' in expected


def test_an_accounts_update_replaces_only_its_samples() -> None:
    live = LiveExposition()
    fill(live)
    changed = [replace(READINGS["vm"][0], value=9000.25)]
    live.set_series("vm", changed, FORECASTS)
    after = render(daemon_wide(live))
    assert b"9000.25" in after and b"3600.5" not in after
    assert after == render(daemon_wide(None, {**READINGS, "vm": changed}))


def test_accounts_no_longer_configured_disappear() -> None:
    live = LiveExposition()
    fill(live)
    live.set_accounts([a for a in ACCOUNTS if a.account != "a-main"])
    lines = render(daemon_wide(live)).decode().splitlines()
    # rate limits and pools are the daemon's to filter; every per-account part is gone
    kept = [x for x in lines if 'account="a-main"' in x and "rate_limit" not in x]
    assert kept == []
    text = "\n".join(lines)
    assert 'account="b-spare"' in text
    assert "quota_watch_account_info{" in text
