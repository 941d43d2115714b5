"""Which notifiers get a message, and when: severities, silences, quiet hours, digest schedule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quota_watch.model import AlertState, MessageKind, Severity, Silence
from quota_watch.notify.config import NotifierSettings, notifier_name

__all__ = ["Route", "digest_boundary", "is_silenced", "route"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Route:
    """One notifier that gets the message, and the earliest time it may be sent."""

    notifier: str
    next_attempt_at: datetime
    digest: bool  # held for the notifier's next digest
    deferred: bool  # held until the end of the notifier's quiet hours

    @property
    def immediate(self) -> bool:
        """Whether the message is due at once."""
        return not (self.digest or self.deferred)


def digest_boundary(now: datetime, interval: timedelta) -> datetime:
    """The first multiple of `interval` since the Unix epoch (UTC) strictly after `now`."""
    elapsed = now - _EPOCH
    return _EPOCH + (elapsed // interval + 1) * interval


def is_silenced(alert: AlertState, silences: Iterable[Silence], now: datetime) -> bool:
    """Whether any silence in force at `now` matches `alert`."""
    return any(silence.matches(alert, now) for silence in silences)


def route(
    alert_or_severity: AlertState | Severity,
    kind: MessageKind,
    notifiers: Sequence[NotifierSettings],
    silences: Iterable[Silence],
    now: datetime,
) -> list[Route]:
    """The notifiers that get a `kind` message about an alert (or of a bare severity).

    Routing is by the alert's severity, which a resolved or period-reset alert keeps from
    when it fired, so those messages reach the same notifiers as the firing one did. A
    silenced alert goes nowhere. Test messages go out at once, ignoring digest and quiet hours.
    """
    if kind == "digest":
        raise ValueError("digests are composed at send time, not routed")
    if isinstance(alert_or_severity, str):
        severity: Severity = alert_or_severity
    else:
        if is_silenced(alert_or_severity, silences, now):
            return []
        severity = alert_or_severity.severity
    routes = []
    for index, notifier in enumerate(notifiers):
        if severity not in notifier.severities:
            continue
        name = notifier_name(notifier, index)
        if kind == "test":
            routes.append(Route(name, now, digest=False, deferred=False))
            continue
        digest = notifier.mode == "digest"
        at = digest_boundary(now, notifier.digest_interval) if digest else now
        deferred = False
        quiet = notifier.quiet_hours
        if quiet is not None and not (severity == "critical" and quiet.allow_critical):
            quiet_end = quiet.window_end(at)
            if quiet_end is not None:
                at, deferred = quiet_end, True
        routes.append(Route(name, at, digest=digest, deferred=deferred))
    return routes
