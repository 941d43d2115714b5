"""Prometheus custom collector: every quota-watch metric name is defined here."""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as PromCollector
from prometheus_client.samples import Sample

from quota_watch import __version__
from quota_watch.sdk import RateLimitStatus
from quota_watch.store import AccountStatus, LatestReading

PREFIX = "quota_watch_"
#: usage/limit metric name suffix per unit: base units in the name, counts have none
UNIT_SUFFIX = {"bytes": "_bytes", "seconds": "_seconds", "count": ""}
#: outcomes that leave collector_success at 1 (NoData is not a failure)
SUCCESS_OUTCOMES = frozenset({"success", "no_data"})
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class AccountFacts:
    """Constant facts about a configured account, exported as quota_watch_account_info."""

    provider: str
    account: str
    group: str | None
    interval_seconds: float


@dataclass(frozen=True)
class ForecastFacts:
    """The latest forecast of one series."""

    utilization: float | None
    exhausts_at: datetime | None


@dataclass(frozen=True)
class HeartbeatFacts:
    """The outside heartbeat's record, when one is configured."""

    last_success_at: datetime | None
    failures_total: int


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape renders, read from the store in one go."""

    readings: Sequence[LatestReading]
    statuses: Sequence[AccountStatus]
    accounts: Sequence[AccountFacts]
    alerts_firing: Mapping[str, int] = field(default_factory=dict)  # by severity
    forecasts: Mapping[tuple[str, str, str | None], ForecastFacts] = field(default_factory=dict)
    notifications_sent: Mapping[str, int] = field(default_factory=dict)  # by notifier
    notifications_failed: Mapping[str, int] = field(default_factory=dict)
    outbox_depth: Mapping[str, int] = field(default_factory=dict)
    rate_limits: Mapping[tuple[str, str], RateLimitStatus] = field(default_factory=dict)
    heartbeat: HeartbeatFacts | None = None
    process: Mapping[str, float] = field(default_factory=dict)  # quota_watch.selfstats


def usage_metric(unit: str) -> str:
    """Name of the usage metric for a limit measured in `unit`."""
    return f"{PREFIX}usage{UNIT_SUFFIX[unit]}"


def limit_metric(unit: str) -> str:
    """Name of the cap metric for a limit measured in `unit`."""
    return f"{PREFIX}limit{UNIT_SUFFIX[unit]}"


METRIC_HELP: dict[str, str] = {
    **{usage_metric(u): f"Current usage of a free-tier limit ({u})." for u in UNIT_SUFFIX},
    **{limit_metric(u): f"Cap of a free-tier limit ({u})." for u in UNIT_SUFFIX},
    f"{PREFIX}utilization_ratio": "Usage divided by cap (0-1; above 1 when over the cap).",
    f"{PREFIX}period_start_timestamp_seconds": "Start of the limit's current period (Unix time).",
    f"{PREFIX}period_end_timestamp_seconds": "End of the limit's current period (Unix time).",
    f"{PREFIX}collector_success": "1 if the account's last poll succeeded, else 0.",
    f"{PREFIX}collector_duration_seconds": "Duration of the account's last poll.",
    f"{PREFIX}collector_last_success_timestamp_seconds": "Time of the last successful poll.",
    f"{PREFIX}collector_runs": "Polls of the account since its first one.",
    f"{PREFIX}collector_failures": "Failed polls of the account since its first one.",
    f"{PREFIX}forecast_utilization_ratio": "Projected usage at period end (or trend) / cap.",
    f"{PREFIX}forecast_exhaustion_timestamp_seconds": "When the trend reaches the cap.",
    f"{PREFIX}alerts_firing": "Alerts firing now, silenced ones included.",
    f"{PREFIX}notifications": "Notifications delivered, per notifier.",
    f"{PREFIX}notification_failures": "Failed notification deliveries (retried), per notifier.",
    f"{PREFIX}outbox_messages": "Notifications waiting in the outbox, per notifier.",
    f"{PREFIX}collector_rate_limit_remaining": "API requests left, as the provider last said.",
    f"{PREFIX}collector_rate_limit": "API request budget, as the provider last said.",
    f"{PREFIX}collector_rate_limit_reset_timestamp_seconds": "When the API budget resets.",
    f"{PREFIX}heartbeat_last_success_timestamp_seconds": "Time of the last accepted heartbeat.",
    f"{PREFIX}heartbeat_failures": "Heartbeat pings that failed since start.",
    f"{PREFIX}account": "Configured account (constant facts).",
    f"{PREFIX}build": "quota-watch build.",
}

#: The daemon's own resource use, under prometheus_client's ProcessCollector names (without our
#: prefix: every exporter uses these, and dashboards expect them). Kind and help per family.
PROCESS_METRICS: dict[str, tuple[str, str]] = {
    "process_resident_memory_bytes": ("gauge", "Resident memory size in bytes."),
    "process_virtual_memory_bytes": ("gauge", "Virtual memory size in bytes."),
    "process_cpu_seconds": ("counter", "Total user and system CPU time spent in seconds."),
    "process_start_time_seconds": (
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
    "process_open_fds": ("gauge", "Number of open file descriptors."),
    "process_max_fds": ("gauge", "Maximum number of open file descriptors."),
}


def _labels(r: LatestReading) -> dict[str, str]:
    labels = {"provider": r.provider, "account": r.account, "limit": r.limit}
    if r.resource is not None:
        labels["resource"] = r.resource
    return labels


def _ts(moment: datetime) -> float:
    return moment.timestamp()


class _Families:
    """Gauge families keyed by name, created on first use in a stable order."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        family = self.families.get(name)
        if family is None:
            family = GaugeMetricFamily(name, METRIC_HELP[name])
            self.families[name] = family
        family.samples.append(Sample(name, labels, value, None, None))


def build_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Metric families for one scrape of `snapshot`."""
    gauges = _Families()
    for r in snapshot.readings:
        labels = _labels(r)
        gauges.add(usage_metric(r.unit), labels, r.value)
        if r.cap is not None:
            gauges.add(limit_metric(r.unit), labels, r.cap)
            if r.cap > 0:
                gauges.add(f"{PREFIX}utilization_ratio", labels, r.value / r.cap)
        if r.period_start is not None:
            gauges.add(f"{PREFIX}period_start_timestamp_seconds", labels, _ts(r.period_start))
        if r.period_end is not None:
            gauges.add(f"{PREFIX}period_end_timestamp_seconds", labels, _ts(r.period_end))
        forecast = snapshot.forecasts.get((r.account, r.limit, r.resource))
        if forecast is not None and forecast.utilization is not None:
            gauges.add(f"{PREFIX}forecast_utilization_ratio", labels, forecast.utilization)
        if forecast is not None and forecast.exhausts_at is not None:
            gauges.add(
                f"{PREFIX}forecast_exhaustion_timestamp_seconds", labels, _ts(forecast.exhausts_at)
            )
    for s in snapshot.statuses:
        labels = {"provider": s.provider, "account": s.account}
        gauges.add(f"{PREFIX}collector_success", labels, float(s.last_outcome in SUCCESS_OUTCOMES))
        gauges.add(f"{PREFIX}collector_duration_seconds", labels, s.last_duration_seconds)
        if s.last_success_at is not None:
            gauges.add(
                f"{PREFIX}collector_last_success_timestamp_seconds",
                labels,
                _ts(s.last_success_at),
            )
    for (provider, account), rate in sorted(snapshot.rate_limits.items()):
        labels = {"provider": provider, "account": account}
        gauges.add(f"{PREFIX}collector_rate_limit_remaining", labels, rate.remaining)
        if rate.limit is not None:
            gauges.add(f"{PREFIX}collector_rate_limit", labels, rate.limit)
        if rate.resets_at is not None:
            gauges.add(
                f"{PREFIX}collector_rate_limit_reset_timestamp_seconds", labels, _ts(rate.resets_at)
            )
    for severity in SEVERITIES:
        gauges.add(
            f"{PREFIX}alerts_firing",
            {"severity": severity},
            float(snapshot.alerts_firing.get(severity, 0)),
        )
    for notifier, depth in sorted(snapshot.outbox_depth.items()):
        gauges.add(f"{PREFIX}outbox_messages", {"notifier": notifier}, float(depth))
    if snapshot.heartbeat is not None and snapshot.heartbeat.last_success_at is not None:
        gauges.add(
            f"{PREFIX}heartbeat_last_success_timestamp_seconds",
            {},
            _ts(snapshot.heartbeat.last_success_at),
        )
    yield from gauges.families.values()
    yield from _counters(snapshot.statuses)
    yield from _notification_counters(snapshot)
    if snapshot.heartbeat is not None:
        name = f"{PREFIX}heartbeat_failures"
        yield CounterMetricFamily(
            name, METRIC_HELP[name], value=float(snapshot.heartbeat.failures_total)
        )
    yield from _process_families(snapshot.process)
    yield _account_info(snapshot.accounts)
    build = InfoMetricFamily(f"{PREFIX}build", METRIC_HELP[f"{PREFIX}build"])
    build.add_metric([], {"version": __version__, "python_version": platform.python_version()})
    yield build


def _counters(statuses: Iterable[AccountStatus]) -> Iterator[Metric]:
    labels = ["provider", "account"]
    runs = CounterMetricFamily(
        f"{PREFIX}collector_runs", METRIC_HELP[f"{PREFIX}collector_runs"], labels=labels
    )
    failures = CounterMetricFamily(
        f"{PREFIX}collector_failures", METRIC_HELP[f"{PREFIX}collector_failures"], labels=labels
    )
    for s in statuses:
        runs.add_metric([s.provider, s.account], s.runs_total)
        failures.add_metric([s.provider, s.account], s.failures_total)
    yield runs
    yield failures


def _notification_counters(snapshot: Snapshot) -> Iterator[Metric]:
    for name, values in (
        ("notifications", snapshot.notifications_sent),
        ("notification_failures", snapshot.notifications_failed),
    ):
        family = CounterMetricFamily(
            f"{PREFIX}{name}", METRIC_HELP[f"{PREFIX}{name}"], labels=["notifier"]
        )
        for notifier, count in sorted(values.items()):
            family.add_metric([notifier], count)
        yield family


def _process_families(stats: Mapping[str, float]) -> Iterator[Metric]:
    for name, (kind, help_text) in PROCESS_METRICS.items():
        value = stats.get(name)
        if value is None:
            continue
        if kind == "counter":
            yield CounterMetricFamily(name, help_text, value=value)
        else:
            yield GaugeMetricFamily(name, help_text, value=value)


def _account_info(accounts: Iterable[AccountFacts]) -> Metric:
    info = InfoMetricFamily(
        f"{PREFIX}account",
        METRIC_HELP[f"{PREFIX}account"],
        labels=["provider", "account"],
    )
    for a in accounts:
        info.add_metric(
            [a.provider, a.account],
            {"group": a.group or "", "interval_seconds": f"{a.interval_seconds:g}"},
        )
    return info


class SnapshotCollector(PromCollector):
    """A prometheus-client collector rendering a snapshot taken just before the scrape."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        """Yield the snapshot's families."""
        return build_families(self.snapshot)


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition of `snapshot`."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
