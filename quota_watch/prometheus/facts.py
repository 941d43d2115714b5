"""What one /metrics scrape renders: the facts it is made of, and each family's help text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.model import AccountStatus
from quota_watch.prometheus import names
from quota_watch.prometheus.names import UNIT_SUFFIX, limit_metric, usage_metric
from quota_watch.sdk import RateLimitStatus
from quota_watch.store.models import StoredReading

if TYPE_CHECKING:
    from quota_watch.prometheus.live import LiveExposition

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
