"""The /metrics exposition: every quota-watch metric family, its help text and its samples."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from quota_watch import __version__
from quota_watch.model import AccountStatus, Outcome
from quota_watch.prometheus import names
from quota_watch.prometheus.names import UNIT_SUFFIX, limit_metric, usage_metric
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.models import StoredReading

__all__ = [
    "METRIC_HELP",
    "PROCESS_METRICS",
    "SEVERITIES",
    "UNIT_SUFFIX",
    "AccountFacts",
    "ClusterFacts",
    "ForecastFacts",
    "HeartbeatFacts",
    "PoolFacts",
    "PoolLimitFacts",
    "Snapshot",
    "limit_metric",
    "render",
    "usage_metric",
]

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class AccountFacts:
    """Constant facts about a configured account, exported as the account info series."""

    provider: str
    account: str
    group: str | None
    interval_seconds: float


@dataclass(frozen=True)
class ForecastFacts:
    """The latest forecast of one series."""

    utilization: float | None
    exhausts_at: datetime | None
    history_seconds: float | None = None  # the time the fitted points cover (its confidence)


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

    readings: Sequence[StoredReading]
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
    cluster: ClusterFacts | None = None  # [cluster] on: this member's view


@dataclass(frozen=True)
class ClusterFacts:
    """A cluster member's view: its id, the live members, and its account leases' epochs."""

    member: str
    members: int
    epochs: Mapping[str, int]  # owned account -> lease epoch


METRIC_HELP: dict[str, str] = {
    **{usage_metric(u): f"Current usage of a free-tier limit ({u})." for u in UNIT_SUFFIX},
    **{limit_metric(u): f"Cap of a free-tier limit ({u})." for u in UNIT_SUFFIX},
    names.UTILIZATION_RATIO: "Usage divided by cap (0-1; above 1 when over the cap).",
    names.PERIOD_START: "Start of the limit's current period (Unix time).",
    names.PERIOD_END: "End of the limit's current period (Unix time).",
    names.COLLECTOR_SUCCESS: "1 if the account's last poll succeeded, else 0.",
    names.COLLECTOR_DURATION: "Duration of the account's last poll.",
    names.COLLECTOR_LAST_SUCCESS: "Time of the last successful poll.",
    names.COLLECTOR_AUTH_FAILED: "1 if the account's last poll had its credentials rejected.",
    names.COLLECTOR_INTERVAL: "The account's configured poll interval.",
    names.COLLECTOR_RUNS: "Polls of the account since its first one.",
    names.COLLECTOR_FAILURES: "Failed polls of the account since its first one.",
    names.FORECAST_UTILIZATION_RATIO: "Projected usage at period end (or trend) / cap.",
    names.FORECAST_EXHAUSTION: "When the trend reaches the cap.",
    names.FORECAST_HISTORY: "Time the forecast's fitted points cover (its confidence; no "
    "projection is made below the rule's min_span).",
    names.POOL_SHARDS: "Accounts in the shard pool (accounts sharing a group).",
    names.POOL_SHARDS_RECOMMENDED: "Shards the pool needs for this limit at the target "
    "utilization (the binding limit needs the most).",
    names.POOL_UTILIZATION_RATIO: "Pool usage divided by pool capacity (0-1).",
    names.POOL_FORECAST_UTILIZATION_RATIO: "Projected pool peak divided by pool capacity.",
    names.ALERTS_FIRING: "Alerts firing now, silenced ones included.",
    names.NOTIFICATIONS: "Notifications delivered, per notifier.",
    names.NOTIFICATION_FAILURES: "Failed notification deliveries (retried), per notifier.",
    names.OUTBOX_MESSAGES: "Notifications waiting in the outbox, per notifier.",
    names.COLLECTOR_RATE_LIMIT_REMAINING: "API requests left, as the provider last said.",
    names.COLLECTOR_RATE_LIMIT: "API request budget, as the provider last said.",
    names.COLLECTOR_RATE_LIMIT_RESET: "When the API budget resets.",
    names.HEARTBEAT_LAST_SUCCESS: "Time of the last accepted heartbeat.",
    names.CLUSTER_MEMBERS: "Live cluster members this member sees (itself included).",
    names.CLUSTER_OWNED_ACCOUNTS: "Accounts whose lease this member holds.",
    names.CLUSTER_LEASE_EPOCH: "Epoch (fencing token) of this member's lease on the account.",
    names.HEARTBEAT_FAILURES: "Heartbeat pings that failed since start.",
    names.ACCOUNT: "Configured account (constant facts).",
    names.BUILD: "quota-watch build.",
}

#: The daemon's own resource use, under prometheus_client's ProcessCollector names (without our
#: prefix: every exporter uses these, and dashboards expect them). Kind and help per family.
PROCESS_METRICS: dict[str, tuple[str, str]] = {
    names.PROCESS_RESIDENT_MEMORY: ("gauge", "Resident memory size in bytes."),
    names.PROCESS_VIRTUAL_MEMORY: ("gauge", "Virtual memory size in bytes."),
    names.PROCESS_CPU_SECONDS: ("counter", "Total user and system CPU time spent in seconds."),
    names.PROCESS_START_TIME: (
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
    names.PROCESS_OPEN_FDS: ("gauge", "Number of open file descriptors."),
    names.PROCESS_MAX_FDS: ("gauge", "Maximum number of open file descriptors."),
}


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", '"': '\\"'})
_INF = float("inf")


def _escape(value: str) -> str:
    return value.translate(_ESCAPES)


def _labelset(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(labels[k])}"' for k in sorted(labels)) + "}"


def _series_labels(r: StoredReading) -> str:
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

    def text(self, openmetrics: bool = False) -> bytes:
        """The whole exposition: text format 0.0.4, or OpenMetrics 1.0.0 with `openmetrics`.

        OpenMetrics names a counter family without its `_total` (the samples keep it), escapes
        double quotes in HELP too, and ends with `# EOF`.
        """
        parts: list[str] = []
        for name, (kind, help_text, lines) in self._families.items():
            help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
            family = name
            if openmetrics:
                help_escaped = help_escaped.replace('"', '\\"')
                if kind == "counter":
                    family = name.removesuffix("_total")
            parts.append(f"# HELP {family} {help_escaped}\n# TYPE {family} {kind}\n")
            parts.extend(lines)
        if openmetrics:
            parts.append("# EOF\n")
        return "".join(parts).encode()


def render(snapshot: Snapshot, openmetrics: bool = False) -> bytes:
    """The Prometheus text exposition of `snapshot` (OpenMetrics 1.0.0 with `openmetrics`)."""
    out = _Exposition()
    _add_series(out, snapshot)
    _add_collectors(out, snapshot)
    _add_pools(out, snapshot)
    _add_daemon(out, snapshot)
    _add_counters(out, snapshot)
    for name, (kind, _help) in PROCESS_METRICS.items():
        value = snapshot.process.get(name)
        if value is not None:
            exposed = names.counter(name) if kind == "counter" else name
            out.add(exposed, "", value, kind=kind)
    _add_accounts(out, snapshot)
    _add_cluster(out, snapshot.cluster)
    return out.text(openmetrics)


def _add_cluster(out: _Exposition, cluster: ClusterFacts | None) -> None:
    """A cluster member's live members, owned accounts and lease epochs."""
    if cluster is None:
        return
    member = _labelset({"member": cluster.member})
    out.add(names.CLUSTER_MEMBERS, member, float(cluster.members))
    out.add(names.CLUSTER_OWNED_ACCOUNTS, member, float(len(cluster.epochs)))
    for account, epoch in sorted(cluster.epochs.items()):
        labels = _labelset({"member": cluster.member, "account": account})
        out.add(names.CLUSTER_LEASE_EPOCH, labels, float(epoch))


def _add_series(out: _Exposition, snapshot: Snapshot) -> None:
    """Usage, cap, utilization, period bounds and forecast of every limit series."""
    for r in snapshot.readings:
        labels = _series_labels(r)
        out.add(usage_metric(r.unit), labels, r.value)
        if r.cap is not None:
            out.add(limit_metric(r.unit), labels, r.cap)
            if r.cap > 0:
                out.add(names.UTILIZATION_RATIO, labels, r.value / r.cap)
        if r.period_start is not None:
            out.add(names.PERIOD_START, labels, _ts(r.period_start))
        if r.period_end is not None:
            out.add(names.PERIOD_END, labels, _ts(r.period_end))
        forecast = snapshot.forecasts.get((r.account, r.limit, r.resource))
        if forecast is not None and forecast.utilization is not None:
            out.add(names.FORECAST_UTILIZATION_RATIO, labels, forecast.utilization)
        if forecast is not None and forecast.exhausts_at is not None:
            out.add(names.FORECAST_EXHAUSTION, labels, _ts(forecast.exhausts_at))
        if forecast is not None and forecast.history_seconds is not None:
            out.add(names.FORECAST_HISTORY, labels, forecast.history_seconds)


def _add_collectors(out: _Exposition, snapshot: Snapshot) -> None:
    """Each account's last poll, and the API rate limits providers reported."""
    for s in snapshot.statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(names.COLLECTOR_SUCCESS, labels, float(not Outcome(s.last_outcome).is_failure))
        out.add(names.COLLECTOR_AUTH_FAILED, labels, float(s.last_outcome == Outcome.AUTH))
        out.add(names.COLLECTOR_DURATION, labels, s.last_duration_seconds)
        if s.last_success_at is not None:
            out.add(names.COLLECTOR_LAST_SUCCESS, labels, _ts(s.last_success_at))
    for (provider, account), rate in sorted(snapshot.rate_limits.items()):
        labels = _labelset({"provider": provider, "account": account})
        out.add(names.COLLECTOR_RATE_LIMIT_REMAINING, labels, rate.remaining)
        if rate.limit is not None:
            out.add(names.COLLECTOR_RATE_LIMIT, labels, rate.limit)
        if rate.resets_at is not None:
            out.add(names.COLLECTOR_RATE_LIMIT_RESET, labels, _ts(rate.resets_at))


def _add_pools(out: _Exposition, snapshot: Snapshot) -> None:
    """Shard pools: their size, and per limit utilization, forecast and recommended shards."""
    for pool in snapshot.pools:
        labels = _labelset({"provider": pool.provider, "group": pool.group})
        out.add(names.POOL_SHARDS, labels, float(pool.shards))
        for lim in pool.limits:
            labels = _labelset({"provider": pool.provider, "group": pool.group, "limit": lim.limit})
            out.add(names.POOL_UTILIZATION_RATIO, labels, lim.utilization)
            out.add(names.POOL_FORECAST_UTILIZATION_RATIO, labels, lim.forecast_utilization)
            out.add(names.POOL_SHARDS_RECOMMENDED, labels, float(lim.shards_recommended))


def _add_daemon(out: _Exposition, snapshot: Snapshot) -> None:
    """Firing alerts, the outbox and the heartbeat's last success."""
    for severity in SEVERITIES:
        out.add(
            names.ALERTS_FIRING,
            _labelset({"severity": severity}),
            float(snapshot.alerts_firing.get(severity, 0)),
        )
    for notifier, depth in sorted(snapshot.outbox_depth.items()):
        out.add(names.OUTBOX_MESSAGES, _labelset({"notifier": notifier}), float(depth))
    if snapshot.heartbeat is not None and snapshot.heartbeat.last_success_at is not None:
        out.add(names.HEARTBEAT_LAST_SUCCESS, "", _ts(snapshot.heartbeat.last_success_at))


def _add_counters(out: _Exposition, snapshot: Snapshot) -> None:
    """Poll, notification and heartbeat counters (declared even before their first sample)."""
    runs, failures = names.COLLECTOR_RUNS_TOTAL, names.COLLECTOR_FAILURES_TOTAL
    out.declare(runs, kind="counter")
    out.declare(failures, kind="counter")
    for s in snapshot.statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(runs, labels, s.runs_total, kind="counter")
        out.add(failures, labels, s.failures_total, kind="counter")
    for name, values in (
        (names.NOTIFICATIONS_TOTAL, snapshot.notifications_sent),
        (names.NOTIFICATION_FAILURES_TOTAL, snapshot.notifications_failed),
    ):
        out.declare(name, kind="counter")
        for notifier, count in sorted(values.items()):
            out.add(name, _labelset({"notifier": notifier}), count, kind="counter")
    if snapshot.heartbeat is not None:
        out.add(
            names.HEARTBEAT_FAILURES_TOTAL,
            "",
            float(snapshot.heartbeat.failures_total),
            kind="counter",
        )


def _add_accounts(out: _Exposition, snapshot: Snapshot) -> None:
    """Configured accounts' intervals and info series, and the build info."""
    for a in snapshot.accounts:
        labels = _labelset({"provider": a.provider, "account": a.account})
        out.add(names.COLLECTOR_INTERVAL, labels, a.interval_seconds)
    out.declare(names.ACCOUNT_INFO)
    for a in snapshot.accounts:
        info = {"provider": a.provider, "account": a.account, "group": a.group or ""}
        info["interval_seconds"] = f"{a.interval_seconds:.15g}"  # never 1e+06
        out.add(names.ACCOUNT_INFO, _labelset(info), 1.0)
    build = {"version": __version__, "python_version": platform.python_version()}
    out.add(names.BUILD_INFO, _labelset(build), 1.0)
