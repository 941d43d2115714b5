"""Every metric family name /metrics exposes: the one place the `quota_watch_` prefix is spelled.

Family names are the HELP keys (counters without `_total`, info metrics without `_info`);
the `*_TOTAL` and `*_INFO` constants are the names as exposed, which PromQL queries use.
"""

from __future__ import annotations

PREFIX = "quota_watch_"

#: usage/limit metric name suffix per unit: base units in the name, counts have none
UNIT_SUFFIX = {"bytes": "_bytes", "seconds": "_seconds", "count": ""}

USAGE = f"{PREFIX}usage"
LIMIT = f"{PREFIX}limit"


def usage_metric(unit: str) -> str:
    """Name of the usage metric for a limit measured in `unit`."""
    return f"{USAGE}{UNIT_SUFFIX[unit]}"


def limit_metric(unit: str) -> str:
    """Name of the cap metric for a limit measured in `unit`."""
    return f"{LIMIT}{UNIT_SUFFIX[unit]}"


def counter(family: str) -> str:
    """The exposed name of counter `family` (text format 0.0.4 appends `_total`)."""
    return f"{family}_total"


def info(family: str) -> str:
    """The exposed name of info metric `family`."""
    return f"{family}_info"


# Per series (provider, account, limit, resource).
UTILIZATION_RATIO = f"{PREFIX}utilization_ratio"
PERIOD_START = f"{PREFIX}period_start_timestamp_seconds"
PERIOD_END = f"{PREFIX}period_end_timestamp_seconds"
FORECAST_UTILIZATION_RATIO = f"{PREFIX}forecast_utilization_ratio"
FORECAST_EXHAUSTION = f"{PREFIX}forecast_exhaustion_timestamp_seconds"
FORECAST_HISTORY = f"{PREFIX}forecast_history_seconds"

# Per account (provider, account).
COLLECTOR_SUCCESS = f"{PREFIX}collector_success"
COLLECTOR_DURATION = f"{PREFIX}collector_duration_seconds"
COLLECTOR_LAST_SUCCESS = f"{PREFIX}collector_last_success_timestamp_seconds"
COLLECTOR_AUTH_FAILED = f"{PREFIX}collector_auth_failed"
COLLECTOR_INTERVAL = f"{PREFIX}collector_interval_seconds"
COLLECTOR_RUNS = f"{PREFIX}collector_runs"
COLLECTOR_RUNS_TOTAL = counter(COLLECTOR_RUNS)
COLLECTOR_FAILURES = f"{PREFIX}collector_failures"
COLLECTOR_FAILURES_TOTAL = counter(COLLECTOR_FAILURES)
COLLECTOR_RATE_LIMIT_REMAINING = f"{PREFIX}collector_rate_limit_remaining"
COLLECTOR_RATE_LIMIT = f"{PREFIX}collector_rate_limit"
COLLECTOR_RATE_LIMIT_RESET = f"{PREFIX}collector_rate_limit_reset_timestamp_seconds"
ACCOUNT = f"{PREFIX}account"
ACCOUNT_INFO = info(ACCOUNT)

# Per shard pool (provider, group[, limit]).
POOL_SHARDS = f"{PREFIX}pool_shards"
POOL_SHARDS_RECOMMENDED = f"{PREFIX}pool_shards_recommended"
POOL_UTILIZATION_RATIO = f"{PREFIX}pool_utilization_ratio"
POOL_FORECAST_UTILIZATION_RATIO = f"{PREFIX}pool_forecast_utilization_ratio"

# The daemon itself.
ALERTS_FIRING = f"{PREFIX}alerts_firing"
NOTIFICATIONS = f"{PREFIX}notifications"
NOTIFICATIONS_TOTAL = counter(NOTIFICATIONS)
NOTIFICATION_FAILURES = f"{PREFIX}notification_failures"
NOTIFICATION_FAILURES_TOTAL = counter(NOTIFICATION_FAILURES)
OUTBOX_MESSAGES = f"{PREFIX}outbox_messages"
HEARTBEAT_LAST_SUCCESS = f"{PREFIX}heartbeat_last_success_timestamp_seconds"
HEARTBEAT_FAILURES = f"{PREFIX}heartbeat_failures"
HEARTBEAT_FAILURES_TOTAL = counter(HEARTBEAT_FAILURES)
# Several daemons on one store (quota_watch.cluster): each member exports its own view.
CLUSTER_MEMBERS = f"{PREFIX}cluster_members"
CLUSTER_OWNED_ACCOUNTS = f"{PREFIX}cluster_owned_accounts"
CLUSTER_LEASE_EPOCH = f"{PREFIX}cluster_lease_epoch"
BUILD = f"{PREFIX}build"
BUILD_INFO = info(BUILD)

# prometheus_client's ProcessCollector names, without our prefix: every exporter uses these.
PROCESS_RESIDENT_MEMORY = "process_resident_memory_bytes"
PROCESS_VIRTUAL_MEMORY = "process_virtual_memory_bytes"
PROCESS_CPU_SECONDS = "process_cpu_seconds"
PROCESS_START_TIME = "process_start_time_seconds"
PROCESS_OPEN_FDS = "process_open_fds"
PROCESS_MAX_FDS = "process_max_fds"
