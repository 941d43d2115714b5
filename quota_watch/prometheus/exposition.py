"""The /metrics exposition: every quota-watch metric family, its help text and its samples."""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence
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
    "Fragment",
    "HeartbeatFacts",
    "LiveExposition",
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
    #: The accounts' samples pre-rendered as polls finished (the daemon's scrape): used
    #: instead of readings, statuses, accounts and forecasts.
    live: LiveExposition | None = None
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

#: Pre-rendered samples of some families: name -> (kind, help, sample lines joined and
#: encoded), in the order the families were first used.
Fragment = dict[str, tuple[str, str, bytes]]


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
        # A family's samples are all str lines (added here) or all bytes (merged fragments).
        self._families: dict[str, tuple[str, str, list[str | bytes]]] = {}

    def add(self, name: str, labels: str, value: float, *, kind: str = "gauge") -> None:
        """One sample of family `name` (the exposed name: counters end in _total)."""
        family = self._families.get(name)
        if family is None:
            help_key = name.removesuffix("_total").removesuffix("_info")
            help_text = METRIC_HELP.get(help_key) or PROCESS_METRICS[help_key][1]
            family = (kind, help_text, [])
            self._families[name] = family
        family[2].append(f"{name}{labels} {_number(value)}\n")

    def merge(self, fragment: Fragment) -> None:
        """Append a pre-rendered fragment's samples, family by family, in its first-use order."""
        families = self._families
        for name, (kind, help_text, text) in fragment.items():
            family = families.get(name)
            if family is None:
                family = (kind, help_text, [])
                families[name] = family
            family[2].append(text)

    def fragment(self) -> Fragment:
        """What was added so far, as a fragment: each family's samples joined into one string."""
        families = self._families.items()
        return {name: (kind, h, _joined(lines)) for name, (kind, h, lines) in families}

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
        parts: list[bytes] = []
        for name, (kind, help_text, lines) in self._families.items():
            help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
            family = name
            if openmetrics:
                help_escaped = help_escaped.replace('"', '\\"')
                if kind == "counter":
                    family = name.removesuffix("_total")
            parts.append(f"# HELP {family} {help_escaped}\n# TYPE {family} {kind}\n".encode())
            if lines and isinstance(lines[0], bytes):
                parts.extend(lines)  # type: ignore[arg-type]  # merged fragments: all bytes
            else:
                parts.append(_joined(lines))
        if openmetrics:
            parts.append(b"# EOF\n")
        # One join of bytes: at 50,000 series a str join and then encode() copied 40 MB twice.
        return b"".join(parts)


def _joined(lines: Sequence[str | bytes]) -> bytes:
    """Sample lines of one family as bytes (all str, or all bytes)."""
    if lines and isinstance(lines[0], bytes):
        return b"".join(lines)  # type: ignore[arg-type]
    return "".join(lines).encode()  # type: ignore[arg-type]


def render(snapshot: Snapshot, openmetrics: bool = False) -> bytes:
    """The Prometheus text exposition of `snapshot` (OpenMetrics 1.0.0 with `openmetrics`)."""
    if snapshot.live is not None:
        return snapshot.live.text(snapshot, openmetrics)
    out = _Exposition()
    _add_series(out, snapshot.readings, snapshot.forecasts)
    _add_statuses(out, snapshot.statuses)
    _add_rate_limits(out, snapshot.rate_limits)
    _add_pools(out, snapshot)
    _add_daemon(out, snapshot)
    _declare_poll_counters(out)
    _add_poll_counters(out, snapshot.statuses)
    _add_delivery_counters(out, snapshot)
    _add_process(out, snapshot.process)
    _add_intervals(out, snapshot.accounts)
    out.declare(names.ACCOUNT_INFO)
    _add_infos(out, snapshot.accounts)
    _add_build(out)
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


def _add_process(out: _Exposition, process: Mapping[str, float]) -> None:
    for name, (kind, _help) in PROCESS_METRICS.items():
        value = process.get(name)
        if value is not None:
            exposed = names.counter(name) if kind == "counter" else name
            out.add(exposed, "", value, kind=kind)


def _add_series(
    out: _Exposition,
    readings: Sequence[StoredReading],
    forecasts: Mapping[tuple[str, str, str | None], ForecastFacts],
) -> None:
    """Usage, cap, utilization, period bounds and forecast of every limit series."""
    for r in readings:
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
        forecast = forecasts.get((r.account, r.limit, r.resource))
        if forecast is not None and forecast.utilization is not None:
            out.add(names.FORECAST_UTILIZATION_RATIO, labels, forecast.utilization)
        if forecast is not None and forecast.exhausts_at is not None:
            out.add(names.FORECAST_EXHAUSTION, labels, _ts(forecast.exhausts_at))
        if forecast is not None and forecast.history_seconds is not None:
            out.add(names.FORECAST_HISTORY, labels, forecast.history_seconds)


def _add_statuses(out: _Exposition, statuses: Sequence[AccountStatus]) -> None:
    """Each account's last poll."""
    for s in statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(names.COLLECTOR_SUCCESS, labels, float(not Outcome(s.last_outcome).is_failure))
        out.add(names.COLLECTOR_AUTH_FAILED, labels, float(s.last_outcome == Outcome.AUTH))
        out.add(names.COLLECTOR_DURATION, labels, s.last_duration_seconds)
        if s.last_success_at is not None:
            out.add(names.COLLECTOR_LAST_SUCCESS, labels, _ts(s.last_success_at))


def _add_rate_limits(
    out: _Exposition, rate_limits: Mapping[tuple[str, str], RateLimitStatus]
) -> None:
    """The API rate limits providers reported."""
    for (provider, account), rate in sorted(rate_limits.items()):
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


def _declare_poll_counters(out: _Exposition) -> None:
    """The poll counters appear even before the first poll."""
    out.declare(names.COLLECTOR_RUNS_TOTAL, kind="counter")
    out.declare(names.COLLECTOR_FAILURES_TOTAL, kind="counter")


def _add_poll_counters(out: _Exposition, statuses: Sequence[AccountStatus]) -> None:
    """Polls and failed polls per account."""
    runs, failures = names.COLLECTOR_RUNS_TOTAL, names.COLLECTOR_FAILURES_TOTAL
    for s in statuses:
        labels = _labelset({"provider": s.provider, "account": s.account})
        out.add(runs, labels, s.runs_total, kind="counter")
        out.add(failures, labels, s.failures_total, kind="counter")


def _add_delivery_counters(out: _Exposition, snapshot: Snapshot) -> None:
    """Notification and heartbeat counters (declared even before their first sample)."""
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


def _add_intervals(out: _Exposition, accounts: Sequence[AccountFacts]) -> None:
    """Configured accounts' poll intervals."""
    for a in accounts:
        labels = _labelset({"provider": a.provider, "account": a.account})
        out.add(names.COLLECTOR_INTERVAL, labels, a.interval_seconds)


def _add_infos(out: _Exposition, accounts: Sequence[AccountFacts]) -> None:
    """Configured accounts' info series."""
    for a in accounts:
        info = {"provider": a.provider, "account": a.account, "group": a.group or ""}
        info["interval_seconds"] = f"{a.interval_seconds:.15g}"  # never 1e+06
        out.add(names.ACCOUNT_INFO, _labelset(info), 1.0)


def _add_build(out: _Exposition) -> None:
    build = {"version": __version__, "python_version": platform.python_version()}
    out.add(names.BUILD_INFO, _labelset(build), 1.0)


def _fragment(add: Callable[[_Exposition], None]) -> Fragment:
    out = _Exposition()
    add(out)
    return out.fragment()


@dataclass
class _AccountParts:
    """One account's pre-rendered samples, by the section of the exposition they go in."""

    interval: Fragment
    info: Fragment
    series: Fragment = field(default_factory=dict)
    status: Fragment = field(default_factory=dict)
    counters: Fragment = field(default_factory=dict)


class LiveExposition:
    """The exposition kept up to date as polls finish: each account's samples are rendered when
    they change, so a scrape only concatenates them around the few daemon-wide families.

    Its output is byte for byte what `render` makes of the same facts.
    """

    def __init__(self) -> None:
        self._parts: dict[str, _AccountParts] = {}

    def set_accounts(self, accounts: Sequence[AccountFacts]) -> None:
        """The configured accounts (any order): their constant facts; others are dropped."""
        parts: dict[str, _AccountParts] = {}
        for a in sorted(accounts, key=lambda a: a.account):
            old = self._parts.get(a.account)
            new = _AccountParts(
                interval=_fragment(lambda out: _add_intervals(out, [a])),  # noqa: B023
                info=_fragment(lambda out: _add_infos(out, [a])),  # noqa: B023
            )
            if old is not None:
                new.series, new.status, new.counters = old.series, old.status, old.counters
            parts[a.account] = new
        self._parts = parts

    def set_series(
        self,
        account: str,
        readings: Sequence[StoredReading],
        forecasts: Mapping[tuple[str, str, str | None], ForecastFacts],
    ) -> None:
        """The newest reading of each series of `account`, in (limit, resource) order."""
        parts = self._parts.get(account)
        if parts is not None:
            parts.series = _fragment(lambda out: _add_series(out, readings, forecasts))

    def set_status(self, status: AccountStatus) -> None:
        """The account's poll health after its latest poll."""
        parts = self._parts.get(status.account)
        if parts is not None:
            parts.status = _fragment(lambda out: _add_statuses(out, [status]))
            parts.counters = _fragment(lambda out: _add_poll_counters(out, [status]))

    def text(self, daemon: Snapshot, openmetrics: bool = False) -> bytes:
        """The whole exposition; `daemon` gives the daemon-wide facts (its readings, statuses
        and accounts are not used: those come from the pre-rendered parts)."""
        parts = list(self._parts.values())
        out = _Exposition()
        for p in parts:
            out.merge(p.series)
        for p in parts:
            out.merge(p.status)
        _add_rate_limits(out, daemon.rate_limits)
        _add_pools(out, daemon)
        _add_daemon(out, daemon)
        _declare_poll_counters(out)
        for p in parts:
            out.merge(p.counters)
        _add_delivery_counters(out, daemon)
        _add_process(out, daemon.process)
        for p in parts:
            out.merge(p.interval)
        out.declare(names.ACCOUNT_INFO)
        for p in parts:
            out.merge(p.info)
        _add_build(out)
        _add_cluster(out, daemon.cluster)
        return out.text(openmetrics)
