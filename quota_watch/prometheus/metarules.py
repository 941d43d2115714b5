"""Prometheus alerting rules about quota-watch itself: down, notifications failing, backlog."""

from __future__ import annotations

from datetime import timedelta

from quota_watch.prometheus import names
from quota_watch.prometheus.alertrule import AlertRule

__all__ = ["DEFAULT_JOB", "META_ALERT_NAMES", "META_GROUP_NAME", "meta_rules"]

META_GROUP_NAME = "quota-watch-meta"

DEFAULT_JOB = "quota-watch"
"""The scrape job name the shipped Prometheus config (deploy/prometheus) gives the daemon."""

DAEMON_DOWN = "QuotaWatchDown"
NOTIFICATIONS_FAILING = "QuotaWatchNotificationsFailing"
OUTBOX_BACKLOG = "QuotaWatchOutboxBacklog"
HEARTBEAT_FAILING = "QuotaWatchHeartbeatFailing"

META_ALERT_NAMES = (DAEMON_DOWN, NOTIFICATIONS_FAILING, OUTBOX_BACKLOG, HEARTBEAT_FAILING)
"""The meta alerts in file order. A stale collector is QuotaDataStale (computed from the clock,
so it also fires when polling stops)."""


def meta_rules(job: str = DEFAULT_JOB) -> list[AlertRule]:
    """Alerts on the watcher itself; `job` is the scrape job of the daemon's /metrics."""
    up = f'up{{job="{job}"}}'
    return [
        AlertRule(
            alert=DAEMON_DOWN,
            # absent(): a Prometheus that lost the target entirely (renamed job, deleted
            # service discovery entry) says nothing through `up`.
            expr=f"{up} == 0\nor\nabsent({up})",
            for_=timedelta(minutes=5),
            severity="critical",
            summary="quota-watch{{ with $labels.instance }} ({{ . }}){{ end }} is down",
            description=(
                "Prometheus has had no successful scrape of quota-watch"
                "{{ with $labels.instance }} ({{ . }}){{ end }} for 5 minutes. No account is "
                "being watched and no quota alert can be sent until it is back: check "
                "`systemctl status quota-watch` and its journal."
            ),
        ),
        AlertRule(
            alert=NOTIFICATIONS_FAILING,
            expr=(
                f"increase({names.NOTIFICATION_FAILURES_TOTAL}[30m]) > 0\n"
                f"unless on (notifier) increase({names.NOTIFICATIONS_TOTAL}[30m]) > 0"
            ),
            for_=timedelta(minutes=10),
            severity="critical",
            summary="quota-watch cannot deliver through notifier {{ $labels.notifier }}",
            description=(
                "Notifier {{ $labels.notifier }} failed {{ $value | humanize }} deliveries in "
                "the last 30 minutes and delivered none. Quota alerts wait in the outbox; "
                "`quota-watch notify test` shows the error."
            ),
        ),
        AlertRule(
            alert=OUTBOX_BACKLOG,
            # Messages that have waited for 30 minutes without the queue ever emptying: a
            # receiver that is down or refusing, even when no failure is counted (timeouts).
            expr=f"min_over_time({names.OUTBOX_MESSAGES}[30m]) > 0",
            for_=timedelta(0),
            severity="warning",
            summary="quota-watch messages are waiting for notifier {{ $labels.notifier }}",
            description=(
                "{{ $value }} messages for notifier {{ $labels.notifier }} have not left the "
                "outbox for 30 minutes or more: the daemon's log names the delivery error and "
                "`quota-watch notify test` checks the notifier."
            ),
        ),
        AlertRule(
            alert=HEARTBEAT_FAILING,
            expr=f"increase({names.HEARTBEAT_FAILURES_TOTAL}[30m]) >= 3",
            for_=timedelta(0),
            severity="warning",
            summary="quota-watch ({{ $labels.instance }}) cannot reach its heartbeat URL",
            description=(
                "{{ $value | humanize }} heartbeat pings from {{ $labels.instance }} failed in "
                "the last 30 minutes: the dead-man's switch may report the daemon down."
            ),
        ),
    ]
