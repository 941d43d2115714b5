"""Which samples each part of the exposition holds: limit series, poll health, daemon-wide."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence

from quota_watch import __version__
from quota_watch.model import AccountStatus, Outcome
from quota_watch.prometheus import names
from quota_watch.prometheus.facts import (
    PROCESS_METRICS,
    SEVERITIES,
    AccountFacts,
    ClusterFacts,
    ForecastFacts,
    Snapshot,
)
from quota_watch.prometheus.names import limit_metric, usage_metric
from quota_watch.prometheus.textformat import Exposition, labelset, series_labels, ts
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.models import StoredReading


def add_cluster(out: Exposition, cluster: ClusterFacts | None) -> None:
    """A cluster member's live members, owned accounts and lease epochs."""
    if cluster is None:
        return
    member = labelset({"member": cluster.member})
    out.add(names.CLUSTER_MEMBERS, member, float(cluster.members))
    out.add(names.CLUSTER_OWNED_ACCOUNTS, member, float(len(cluster.epochs)))
    for account, epoch in sorted(cluster.epochs.items()):
        labels = labelset({"member": cluster.member, "account": account})
        out.add(names.CLUSTER_LEASE_EPOCH, labels, float(epoch))


def add_process(out: Exposition, process: Mapping[str, float]) -> None:
    """The daemon's own resource use, under the process_* names."""
    for name, (kind, _help) in PROCESS_METRICS.items():
        value = process.get(name)
        if value is not None:
            exposed = names.counter(name) if kind == "counter" else name
            out.add(exposed, "", value, kind=kind)


def add_series(
    out: Exposition,
    readings: Sequence[StoredReading],
    forecasts: Mapping[tuple[str, str, str | None], ForecastFacts],
) -> None:
    """Usage, cap, utilization, period bounds and forecast of every limit series."""
    for r in readings:
        labels = series_labels(r)
        out.add(usage_metric(r.unit), labels, r.value)
        if r.cap is not None:
            out.add(limit_metric(r.unit), labels, r.cap)
            if r.cap > 0:
                out.add(names.UTILIZATION_RATIO, labels, r.value / r.cap)
        if r.period_start is not None:
            out.add(names.PERIOD_START, labels, ts(r.period_start))
        if r.period_end is not None:
            out.add(names.PERIOD_END, labels, ts(r.period_end))
        forecast = forecasts.get((r.account, r.limit, r.resource))
        if forecast is not None and forecast.utilization is not None:
            out.add(names.FORECAST_UTILIZATION_RATIO, labels, forecast.utilization)
        if forecast is not None and forecast.exhausts_at is not None:
            out.add(names.FORECAST_EXHAUSTION, labels, ts(forecast.exhausts_at))
        if forecast is not None and forecast.history_seconds is not None:
            out.add(names.FORECAST_HISTORY, labels, forecast.history_seconds)


def add_statuses(out: Exposition, statuses: Sequence[AccountStatus]) -> None:
    """Each account's last poll."""
    for s in statuses:
        labels = labelset({"provider": s.provider, "account": s.account})
        out.add(names.COLLECTOR_SUCCESS, labels, float(not Outcome(s.last_outcome).is_failure))
        out.add(names.COLLECTOR_AUTH_FAILED, labels, float(s.last_outcome == Outcome.AUTH))
        out.add(names.COLLECTOR_DURATION, labels, s.last_duration_seconds)
        if s.last_success_at is not None:
            out.add(names.COLLECTOR_LAST_SUCCESS, labels, ts(s.last_success_at))


def add_rate_limits(
    out: Exposition, rate_limits: Mapping[tuple[str, str], RateLimitStatus]
) -> None:
    """The API rate limits providers reported."""
    for (provider, account), rate in sorted(rate_limits.items()):
        labels = labelset({"provider": provider, "account": account})
        out.add(names.COLLECTOR_RATE_LIMIT_REMAINING, labels, rate.remaining)
        if rate.limit is not None:
            out.add(names.COLLECTOR_RATE_LIMIT, labels, rate.limit)
        if rate.resets_at is not None:
            out.add(names.COLLECTOR_RATE_LIMIT_RESET, labels, ts(rate.resets_at))


def add_pools(out: Exposition, snapshot: Snapshot) -> None:
    """Shard pools: their size, and per limit utilization, forecast and recommended shards."""
    for pool in snapshot.pools:
        labels = labelset({"provider": pool.provider, "group": pool.group})
        out.add(names.POOL_SHARDS, labels, float(pool.shards))
        for lim in pool.limits:
            labels = labelset({"provider": pool.provider, "group": pool.group, "limit": lim.limit})
            out.add(names.POOL_UTILIZATION_RATIO, labels, lim.utilization)
            out.add(names.POOL_FORECAST_UTILIZATION_RATIO, labels, lim.forecast_utilization)
            out.add(names.POOL_SHARDS_RECOMMENDED, labels, float(lim.shards_recommended))


def add_daemon(out: Exposition, snapshot: Snapshot) -> None:
    """Firing alerts, the outbox and the heartbeat's last success."""
    for severity in SEVERITIES:
        out.add(
            names.ALERTS_FIRING,
            labelset({"severity": severity}),
            float(snapshot.alerts_firing.get(severity, 0)),
        )
    for notifier, depth in sorted(snapshot.outbox_depth.items()):
        out.add(names.OUTBOX_MESSAGES, labelset({"notifier": notifier}), float(depth))
    if snapshot.heartbeat is not None and snapshot.heartbeat.last_success_at is not None:
        out.add(names.HEARTBEAT_LAST_SUCCESS, "", ts(snapshot.heartbeat.last_success_at))


def declare_poll_counters(out: Exposition) -> None:
    """The poll counters appear even before the first poll."""
    out.declare(names.COLLECTOR_RUNS_TOTAL, kind="counter")
    out.declare(names.COLLECTOR_FAILURES_TOTAL, kind="counter")


def add_poll_counters(out: Exposition, statuses: Sequence[AccountStatus]) -> None:
    """Polls and failed polls per account."""
    runs, failures = names.COLLECTOR_RUNS_TOTAL, names.COLLECTOR_FAILURES_TOTAL
    for s in statuses:
        labels = labelset({"provider": s.provider, "account": s.account})
        out.add(runs, labels, s.runs_total, kind="counter")
        out.add(failures, labels, s.failures_total, kind="counter")


def add_delivery_counters(out: Exposition, snapshot: Snapshot) -> None:
    """Notification and heartbeat counters (declared even before their first sample)."""
    for name, values in (
        (names.NOTIFICATIONS_TOTAL, snapshot.notifications_sent),
        (names.NOTIFICATION_FAILURES_TOTAL, snapshot.notifications_failed),
    ):
        out.declare(name, kind="counter")
        for notifier, count in sorted(values.items()):
            out.add(name, labelset({"notifier": notifier}), count, kind="counter")
    if snapshot.heartbeat is not None:
        out.add(
            names.HEARTBEAT_FAILURES_TOTAL,
            "",
            float(snapshot.heartbeat.failures_total),
            kind="counter",
        )


def add_intervals(out: Exposition, accounts: Sequence[AccountFacts]) -> None:
    """Configured accounts' poll intervals."""
    for a in accounts:
        labels = labelset({"provider": a.provider, "account": a.account})
        out.add(names.COLLECTOR_INTERVAL, labels, a.interval_seconds)


def add_infos(out: Exposition, accounts: Sequence[AccountFacts]) -> None:
    """Configured accounts' info series."""
    for a in accounts:
        info = {"provider": a.provider, "account": a.account, "group": a.group or ""}
        info["interval_seconds"] = f"{a.interval_seconds:.15g}"  # never 1e+06
        out.add(names.ACCOUNT_INFO, labelset(info), 1.0)


def add_build(out: Exposition) -> None:
    """The build info series."""
    build = {"version": __version__, "python_version": platform.python_version()}
    out.add(names.BUILD_INFO, labelset(build), 1.0)
