"""The /metrics exposition: names, units, labels, and promtool's verdict."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import AccountFacts, ForecastFacts, Snapshot, render
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.models import StoredReading
from tests.support.promtool import check_metrics

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MONTH = datetime(2026, 11, 1, tzinfo=UTC)
NEXT = datetime(2026, 12, 1, tzinfo=UTC)


def reading(
    limit: str,
    unit: str,
    value: float,
    cap: float | None,
    resource: str | None = None,
    account: str = "vm",
) -> StoredReading:
    return StoredReading(
        provider="host",
        account=account,
        limit=limit,
        resource=resource,
        unit=unit,
        measure="level",
        value=value,
        cap=cap,
        cap_source="api" if cap else "none",
        period_start=MONTH if limit == "network_egress" else None,
        period_end=NEXT if limit == "network_egress" else None,
        ts=NOW,
    )


def snapshot() -> Snapshot:
    return Snapshot(
        readings=[
            reading("disk_used", "bytes", 40e9, 100e9, resource="/"),
            reading("disk_used", "bytes", 1e9, 2e9, resource="/boot"),
            reading("network_egress", "bytes", 2e12, 10e12),
            reading("build_minutes", "seconds", 3600, 18000),
            reading("requests", "count", 5, None),
        ],
        statuses=[
            AccountStatus(
                provider="host",
                account="vm",
                last_run_at=NOW,
                last_success_at=NOW,
                last_outcome="success",
                last_error=None,
                last_duration_seconds=0.01,
                runs_total=3,
                failures_total=1,
                consecutive_failures=0,
            )
        ],
        accounts=[AccountFacts("host", "vm", None, 60.0)],
        alerts_firing={"critical": 2},
        forecasts={
            ("vm", "network_egress", None): ForecastFacts(
                0.9, datetime(2026, 11, 28, tzinfo=UTC), 3 * 3600.0
            )
        },
        notifications_sent={"ops": 3},
        notifications_failed={"ops": 1},
        outbox_depth={"ops": 2},
        rate_limits={
            ("host", "vm"): RateLimitStatus(4990, 5000, datetime(2026, 11, 22, 11, tzinfo=UTC))
        },
    )


def samples(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_names_units_and_labels() -> None:
    got = samples(render(snapshot()))
    root = {"provider": "host", "account": "vm", "limit": "disk_used", "resource": "/"}
    assert (root, 40e9) in got["quota_watch_usage_bytes"]
    assert (root, 100e9) in got["quota_watch_limit_bytes"]
    assert (root, 0.4) in got["quota_watch_utilization_ratio"]
    egress = {"provider": "host", "account": "vm", "limit": "network_egress"}
    assert (egress, 0.2) in got["quota_watch_utilization_ratio"]
    assert (egress, MONTH.timestamp()) in got["quota_watch_period_start_timestamp_seconds"]
    assert (egress, NEXT.timestamp()) in got["quota_watch_period_end_timestamp_seconds"]
    assert got["quota_watch_usage_seconds"][0][1] == 3600
    count = {"provider": "host", "account": "vm", "limit": "requests"}
    assert (count, 5) in got["quota_watch_usage"]
    # no cap: no limit, no utilization (never a made-up 0)
    assert all(labels["limit"] != "requests" for labels, _ in got["quota_watch_utilization_ratio"])
    acct = {"provider": "host", "account": "vm"}
    assert (acct, 3) in got["quota_watch_collector_runs_total"]
    assert (acct, 1) in got["quota_watch_collector_failures_total"]
    assert (acct, 1) in got["quota_watch_collector_success"]
    assert (acct, NOW.timestamp()) in got["quota_watch_collector_last_success_timestamp_seconds"]
    info = got["quota_watch_account_info"][0][0]
    assert info["account"] == "vm" and info["interval_seconds"] == "60"
    assert got["quota_watch_build_info"][0][0]["version"]
    assert ({"severity": "critical"}, 2) in got["quota_watch_alerts_firing"]
    assert ({"severity": "warning"}, 0) in got["quota_watch_alerts_firing"]
    assert (egress, 0.9) in got["quota_watch_forecast_utilization_ratio"]
    exhaustion = datetime(2026, 11, 28, tzinfo=UTC).timestamp()
    assert (egress, exhaustion) in got["quota_watch_forecast_exhaustion_timestamp_seconds"]
    assert (egress, 3 * 3600.0) in got["quota_watch_forecast_history_seconds"]
    assert ({"notifier": "ops"}, 3) in got["quota_watch_notifications_total"]
    assert ({"notifier": "ops"}, 1) in got["quota_watch_notification_failures_total"]
    assert ({"notifier": "ops"}, 2) in got["quota_watch_outbox_messages"]
    assert (acct, 4990) in got["quota_watch_collector_rate_limit_remaining"]
    assert (acct, 5000) in got["quota_watch_collector_rate_limit"]


def test_no_label_outside_the_contract() -> None:
    allowed = {"provider", "account", "limit", "resource"}
    extra = {
        "quota_watch_alerts_firing": {"severity"},
        "quota_watch_outbox_messages": {"notifier"},
        "quota_watch_notifications_total": {"notifier"},
        "quota_watch_notification_failures_total": {"notifier"},
    }
    for name, rows in samples(render(snapshot())).items():
        if name.endswith("_info"):
            continue
        for labels, _ in rows:
            assert set(labels) <= allowed | extra.get(name, set()), (name, labels)


def test_no_timestamps() -> None:
    for family in text_string_to_metric_families(render(snapshot()).decode()):
        assert all(s.timestamp is None for s in family.samples), family.name


def test_promtool_is_silent() -> None:
    assert check_metrics(render(snapshot())) == ""


def test_empty_snapshot_is_valid() -> None:
    assert check_metrics(render(Snapshot((), (), ()))) == ""


def test_auth_failure_and_poll_interval_for_the_alert_rules() -> None:
    # QuotaCollectorAuthFailed and QuotaDataStale (rules/prometheus) read these two: the
    # outcome "auth" is not visible in collector_success, and account_info's interval is a label.
    rejected = AccountStatus(
        provider="cloudflare",
        account="cf-main",
        last_run_at=NOW,
        last_success_at=None,
        last_outcome="auth",
        last_error="401",
        last_duration_seconds=0.2,
        runs_total=2,
        failures_total=2,
        consecutive_failures=2,
    )
    base = snapshot()
    snap = Snapshot(
        readings=base.readings,
        statuses=[*base.statuses, rejected],
        accounts=[*base.accounts, AccountFacts("cloudflare", "cf-main", "edge", 600.0)],
    )
    got = samples(render(snap))
    vm, cf = {"provider": "host", "account": "vm"}, {"provider": "cloudflare", "account": "cf-main"}
    assert sorted(got["quota_watch_collector_auth_failed"], key=repr) == sorted(
        [(vm, 0.0), (cf, 1.0)], key=repr
    )
    assert (vm, 60.0) in got["quota_watch_collector_interval_seconds"]
    assert (cf, 600.0) in got["quota_watch_collector_interval_seconds"]
    assert check_metrics(render(snap)) == ""


def test_info_interval_label_is_never_in_exponent_notation() -> None:
    snap = Snapshot((), (), [AccountFacts("host", "vm", None, 1e6)])
    got = samples(render(snap))
    assert got["quota_watch_account_info"][0][0]["interval_seconds"] == "1000000"
