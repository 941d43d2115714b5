"""Notifications: templates, routing, quiet hours, digests, apprise delivery and the outbox."""

from quota_watch.notify.config import (
    NotifierSettings,
    QuietHours,
    check_notifiers,
    notifier_name,
)
from quota_watch.notify.deliver import scrub, send, validate_url
from quota_watch.notify.outbox import (
    DeliveryStats,
    OutboxStore,
    OutboxWorker,
    build_messages,
    enqueue,
    enqueue_test,
    notify_test_messages,
    retry_delay,
)
from quota_watch.notify.routing import Route, digest_boundary, is_silenced, route
from quota_watch.notify.templates import (
    render,
    render_digest,
    render_digest_messages,
    render_test,
)

__all__ = [
    "DeliveryStats",
    "NotifierSettings",
    "OutboxStore",
    "OutboxWorker",
    "QuietHours",
    "Route",
    "build_messages",
    "check_notifiers",
    "digest_boundary",
    "enqueue",
    "enqueue_test",
    "is_silenced",
    "notifier_name",
    "notify_test_messages",
    "render",
    "render_digest",
    "render_digest_messages",
    "render_test",
    "retry_delay",
    "route",
    "scrub",
    "send",
    "validate_url",
]
