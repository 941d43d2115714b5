"""The /metrics exposition: every quota-watch metric name is defined here."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from quota_watch import __version__
from quota_watch.model import AccountStatus
from quota_watch.sdk import RateLimitStatus
from quota_watch.store import LatestReading

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
class PoolLimitFacts:
    """One limit of a shard pool, as the planner last saw it."""

    limit: str
    utilization: float
    forecast_utilization: float
    shards_recommended: int


@dataclass(frozen=True)
class PoolFacts:
    """A shard pool (accounts sharing a `group`) and its limits."""

    provider: str
    group: str
    shards: int
    limits: Sequence[PoolLimitFacts] = ()


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
    pools: Sequence[PoolFacts] = ()


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
    f"{PREFIX}collector_auth_failed": "1 if the account's last poll had its credentials rejected.",
    f"{PREFIX}collector_interval_seconds": "The account's configured poll interval.",
    f"{PREFIX}collector_runs": "Polls of the account since its first one.",
    f"{PREFIX}collector_failures": "Failed polls of the account since its first one.",
    f"{PREFIX}forecast_utilization_ratio": "Projected usage at period end (or trend) / cap.",
    f"{PREFIX}forecast_exhaustion_timestamp_seconds": "When the trend reaches the cap.",
    f"{PREFIX}pool_shards": "Accounts in the shard pool (accounts sharing a group).",
    f"{PREFIX}pool_shards_recommended": "Shards the pool needs for this limit at the target "
    "utilization (the binding limit needs the most).",
    f"{PREFIX}pool_utilization_ratio": "Pool usage divided by pool capacity (0-1).",
    f"{PREFIX}pool_forecast_utilization_ratio": "Projected pool peak divided by pool capacity.",
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


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", '"': '\\"'})
_INF = float("inf")


def _escape(value: str) -> str:
    return value.translate(_ESCAPES)


def _labelset(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(labels[k])}"' for k in sorted(labels)) + "}"


def _series_labels(r: LatestReading) -> str:
    # Sorted label names, as prometheus-client writes them.
    resource = "" if r.resource is None else f',resource="{_escape(r.resource)}"'
    return (
        f'{{account="{_escape(r.account)}",limit="{_escape(r.limit)}",'
        f'provider="{_escape(r.provider)}"{resource}}}'
    )


def _number(value: float) -> str:
    """A sample value as the text format writes it (Go float syntax)."""
    value = float(value)
    if value != value:  # NaN
        return "NaN"
    if value in (_INF, -_INF):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


class _Exposition:
    """Text exposition (format 0.0.4) built family by family, in first-use order.

    Written directly rather than through prometheus-client's Metric objects: with 10,000 series
    (about 60,000 samples) the library's generic path took ~500 ms per scrape, this one a tenth
    of that; the tests parse the output with prometheus-client's parser and promtool.
    """

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def add(self, name: str, labels: str, value: float, *, kind: str = "gauge") -> None:
        """One sample of family `name` (the exposed name: counters end in _total)."""
        family = self._families.get(name)
        if family is None:
            help_key = name.removesuffix("_total").removesuffix("_info")
            help_text = METRIC_HELP.get(help_key) or PROCESS_METRICS[help_key][1]
            family = (kind, help_text, [])
            self._families[name] = family
        family[2].append(f"{name}{labels} {_number(value)}\n")

    def declare(self, name: str, *, kind: str = "gauge") -> None:
        """Make family `name` appear even without samples (e.g. counters before any run)."""
        if name not in self._families:
            help_key = name.removesuffix("_total").removesuffix("_info")
            self._families[name] = (kind, METRIC_HELP[help_key], [])

    def text(self) -> bytes:
        """The whole exposition."""
        parts: list[str] = []
        for name, (kind, help_text, lines) in self._families.items():
            help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
            parts.append(f"# HELP {name} {help_escaped}\n# TYPE {name} {kind}\n")
            parts.extend(lines)
        return "".join(parts).encode()


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition of `snapshot`."""
    out = _Exposition()
    for r in snapshot.readings:
        labels = _series_labels(r)
        out.add(usage_metric(r.unit), labels, r.value)
        if r.cap is not None:
            out.add(limit_metric(r.unit), labels, r.cap)
            if r.cap > 0:
                out.add(f"{PREFIX}utilization_ratio", labels, r.value / r.cap)
        if r.period_start is not None:
            out.add(f"{PREFIX}period_start_timestamp_seconds", labels, _ts(r.period_start))
        if r.period_end is not None:
            out.add(f"{PREFIX}period_end_timestamp_seconds", labels, _ts(r.period_end))
        forecast = snapshot.forecasts.get((r.account, r.limit, r.resource))
        if forecast is not None and forecast.utilization is not None:
            out.add(f"{PREFIX}forecast_utilization_ratio", labels, forecast.utilization)
        if forecast is not None and forecast.exhausts_at is not None:
            out.add(
                f"{PREFIX}forecast_exhaustion_timestamp_seconds", labels, _ts(forecast.exhausts_at)
            )
    for s in snapshot.statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(f"{PREFIX}collector_success", labels, float(s.last_outcome in SUCCESS_OUTCOMES))
        out.add(f"{PREFIX}collector_auth_failed", labels, float(s.last_outcome == "auth"))
        out.add(f"{PREFIX}collector_duration_seconds", labels, s.last_duration_seconds)
        if s.last_success_at is not None:
            out.add(
                f"{PREFIX}collector_last_success_timestamp_seconds", labels, _ts(s.last_success_at)
            )
    for (provider, account), rate in sorted(snapshot.rate_limits.items()):
        labels = _labelset({"provider": provider, "account": account})
        out.add(f"{PREFIX}collector_rate_limit_remaining", labels, rate.remaining)
        if rate.limit is not None:
            out.add(f"{PREFIX}collector_rate_limit", labels, rate.limit)
        if rate.resets_at is not None:
            out.add(
                f"{PREFIX}collector_rate_limit_reset_timestamp_seconds", labels, _ts(rate.resets_at)
            )
    for pool in snapshot.pools:
        labels = _labelset({"provider": pool.provider, "group": pool.group})
        out.add(f"{PREFIX}pool_shards", labels, float(pool.shards))
        for lim in pool.limits:
            labels = _labelset({"provider": pool.provider, "group": pool.group, "limit": lim.limit})
            out.add(f"{PREFIX}pool_utilization_ratio", labels, lim.utilization)
            out.add(f"{PREFIX}pool_forecast_utilization_ratio", labels, lim.forecast_utilization)
            out.add(f"{PREFIX}pool_shards_recommended", labels, float(lim.shards_recommended))
    for severity in SEVERITIES:
        out.add(
            f"{PREFIX}alerts_firing",
            _labelset({"severity": severity}),
            float(snapshot.alerts_firing.get(severity, 0)),
        )
    for notifier, depth in sorted(snapshot.outbox_depth.items()):
        out.add(f"{PREFIX}outbox_messages", _labelset({"notifier": notifier}), float(depth))
    if snapshot.heartbeat is not None and snapshot.heartbeat.last_success_at is not None:
        out.add(
            f"{PREFIX}heartbeat_last_success_timestamp_seconds",
            "",
            _ts(snapshot.heartbeat.last_success_at),
        )
    runs, failures = f"{PREFIX}collector_runs_total", f"{PREFIX}collector_failures_total"
    out.declare(runs, kind="counter")
    out.declare(failures, kind="counter")
    for s in snapshot.statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(runs, labels, s.runs_total, kind="counter")
        out.add(failures, labels, s.failures_total, kind="counter")
    for name, values in (
        (f"{PREFIX}notifications_total", snapshot.notifications_sent),
        (f"{PREFIX}notification_failures_total", snapshot.notifications_failed),
    ):
        out.declare(name, kind="counter")
        for notifier, count in sorted(values.items()):
            out.add(name, _labelset({"notifier": notifier}), count, kind="counter")
    if snapshot.heartbeat is not None:
        out.add(
            f"{PREFIX}heartbeat_failures_total",
            "",
            float(snapshot.heartbeat.failures_total),
            kind="counter",
        )
    for name, (kind, _help) in PROCESS_METRICS.items():
        value = snapshot.process.get(name)
        if value is not None:
            exposed = f"{name}_total" if kind == "counter" else name
            out.add(exposed, "", value, kind=kind)
    for a in snapshot.accounts:
        labels = _labelset({"provider": a.provider, "account": a.account})
        out.add(f"{PREFIX}collector_interval_seconds", labels, a.interval_seconds)
    out.declare(f"{PREFIX}account_info")
    for a in snapshot.accounts:
        info = {"provider": a.provider, "account": a.account, "group": a.group or ""}
        info["interval_seconds"] = f"{a.interval_seconds:.15g}"  # never 1e+06
        out.add(f"{PREFIX}account_info", _labelset(info), 1.0)
    build = {"version": __version__, "python_version": platform.python_version()}
    out.add(f"{PREFIX}build_info", _labelset(build), 1.0)
    return out.text()
