"""Notifications: templates, routing, quiet hours, digests, apprise delivery and the outbox.

Importing one module of the package (the config needs the notifier settings, not the outbox)
does not import the others: each name below is imported from its module when it is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES: dict[str, str] = {
    "DeliveryStats": "quota_watch.notify.outbox",
    "NotifierSettings": "quota_watch.notify.config",
    "OutboxStore": "quota_watch.notify.outbox",
    "OutboxWorker": "quota_watch.notify.outbox",
    "QuietHours": "quota_watch.notify.config",
    "Route": "quota_watch.notify.routing",
    "build_messages": "quota_watch.notify.outbox",
    "check_notifiers": "quota_watch.notify.config",
    "digest_boundary": "quota_watch.notify.routing",
    "enqueue": "quota_watch.notify.outbox",
    "enqueue_test": "quota_watch.notify.outbox",
    "is_silenced": "quota_watch.notify.routing",
    "notifier_name": "quota_watch.notify.config",
    "notify_test_messages": "quota_watch.notify.outbox",
    "render": "quota_watch.notify.templates",
    "render_digest": "quota_watch.notify.templates",
    "render_digest_messages": "quota_watch.notify.templates",
    "render_test": "quota_watch.notify.templates",
    "retry_delay": "quota_watch.notify.outbox",
    "route": "quota_watch.notify.routing",
    "scrub": "quota_watch.notify.deliver",
    "send": "quota_watch.notify.deliver",
    "validate_url": "quota_watch.notify.deliver",
}
"""Each exported name -> the module that defines it."""


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
