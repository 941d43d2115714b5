"""The persistent outbox: queue routed messages, deliver due ones, retry failures with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from quota_watch.model import AlertState, MessageKind, OutboxMessage, Severity, Silence
from quota_watch.notify.config import NotifierSettings, notifier_name
from quota_watch.notify.deliver import BodyFormat, NotifyType, send
from quota_watch.notify.message_id import message_id, with_message_id
from quota_watch.notify.routing import is_silenced, route
from quota_watch.notify.templates import render, render_digest_messages, render_test
from quota_watch.store.models import ClaimLost, StoredForecast

__all__ = [
    "FIRST_RETRY",
    "MAX_RETRY",
    "DeliveryStats",
    "OutboxStore",
    "OutboxWorker",
    "Sender",
    "TransitionLike",
    "build_messages",
    "enqueue",
    "enqueue_test",
    "notify_test_messages",
    "retry_delay",
]

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
_SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
_OPEN_KINDS = frozenset({"firing", "escalated", "reminder"})


class OutboxStore(Protocol):
    """The store methods the outbox uses (quota_watch.store.facade.Store implements them)."""

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Alert states, open ones only unless include_resolved."""
        ...

    async def save_alerts(
        self,
        states: Sequence[AlertState],
        messages: Sequence[OutboxMessage],
        delete: Sequence[str] = (),
        *,
        forecasts: Sequence[StoredForecast] = (),
    ) -> list[OutboxMessage]:
        """Upsert states, delete fingerprints, insert messages and replace the series' latest
        forecasts in one transaction."""
        ...

    async def due_messages(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages due at `now`, oldest first."""
        ...

    async def pending_messages(self, notifier: str) -> list[OutboxMessage]:
        """Every unsent message of one notifier."""
        ...

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        """Record delivery of these messages."""
        ...

    async def mark_failed(
        self, id: int, now: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        """Record a failed attempt (attempts += 1) and when to try again."""
        ...

    async def mark_in_flight(
        self, ids: Sequence[int], now: datetime, next_attempt_at: datetime
    ) -> None:
        """Record that these messages are being sent now; not before `next_attempt_at` again."""
        ...

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """Silences in force at `now` (or all)."""
        ...


class Sender(Protocol):
    """Delivers one message; the signature of quota_watch.notify.deliver.send."""

    async def __call__(
        self,
        url: str,
        title: str,
        body: str,
        body_format: BodyFormat,
        *,
        notify_type: NotifyType = "info",
        time_limit: float = 60.0,
    ) -> tuple[bool, str | None]:
        """(True, None) on success, else (False, reason)."""
        ...


def retry_delay(
    attempts: int, first: timedelta = FIRST_RETRY, maximum: timedelta = MAX_RETRY
) -> timedelta:
    """The wait after a failed attempt, given the attempts before it: `first` doubling, capped."""
    delay = first * (1 << min(max(attempts, 0), 30))
    return min(delay, maximum)


def _message(
    notifier: str,
    fingerprint: str | None,
    kind: MessageKind,
    severity: Severity,
    rendered: tuple[str, str, str],
    now: datetime,
    next_attempt_at: datetime,
) -> OutboxMessage:
    title, text, markdown = rendered
    return OutboxMessage(
        id=None,
        notifier=notifier,
        fingerprint=fingerprint,
        kind=kind,
        severity=severity,
        title=title,
        body_text=text,
        body_markdown=markdown,
        created_at=now,
        next_attempt_at=next_attempt_at,
        attempts=0,
        sent_at=None,
        last_error=None,
    )


class TransitionLike(Protocol):
    """A change worth a message (quota_watch.engine's Transition has this shape)."""

    @property
    def kind(self) -> MessageKind:
        """firing | escalated | reminder | resolved | period_reset."""
        ...

    @property
    def state(self) -> AlertState:
        """The alert right after the change, with current figures."""
        ...


Transitions = Iterable[TransitionLike | tuple[MessageKind, AlertState]]


def _period_end(alert: AlertState) -> datetime | None:
    return alert.period_end


def _base_unit(alert: AlertState) -> str | None:
    del alert
    return None


def build_messages(
    transitions: Transitions,
    notifiers: Sequence[NotifierSettings],
    silences: Iterable[Silence],
    now: datetime,
    *,
    resets_at: Callable[[AlertState], datetime | None] = _period_end,
    display_unit: Callable[[AlertState], str | None] = _base_unit,
    horizon: timedelta | None = None,
) -> list[OutboxMessage]:
    """One outbox row per (transition, routed notifier), due when routing says; amounts in
    the limit's `display_unit` (limits.toml) when it has one; `horizon`: the forecast horizon a
    level's forecast is worded with (templates.render)."""
    silences = list(silences)
    messages = []
    for transition in transitions:
        if isinstance(transition, tuple):
            kind, alert = transition
        else:
            kind, alert = transition.kind, transition.state
        routes = route(alert, kind, notifiers, silences, now)
        if not routes:
            continue
        rendered = render(
            kind,
            alert,
            now,
            resets_at=resets_at(alert),
            display_unit=display_unit(alert),
            horizon=horizon,
        )
        messages += [
            _message(
                r.notifier,
                alert.fingerprint,
                kind,
                alert.severity,
                rendered,
                now,
                r.next_attempt_at,
            )
            for r in routes
        ]
    return messages


def notify_test_messages(
    severity: Severity, notifiers: Sequence[NotifierSettings], now: datetime
) -> list[OutboxMessage]:
    """A test message for every notifier receiving `severity`, due at once."""
    rendered = render_test(severity, now)
    return [
        _message(r.notifier, None, "test", severity, rendered, now, r.next_attempt_at)
        for r in route(severity, "test", notifiers, (), now)
    ]


async def enqueue(
    store: OutboxStore,
    states: Sequence[AlertState],
    transitions: Transitions,
    notifiers: Sequence[NotifierSettings],
    now: datetime,
    *,
    delete: Sequence[str] = (),
    resets_at: Callable[[AlertState], datetime | None] = _period_end,
    forecasts: Sequence[StoredForecast] = (),
    display_unit: Callable[[AlertState], str | None] = _base_unit,
    horizon: timedelta | None = None,
) -> list[OutboxMessage]:
    """Save `states`, the messages for `transitions` and the series' latest `forecasts` in one
    transaction; the stored messages."""
    # Only a transition routed to a notifier can be silenced: a quiet poll reads nothing.
    silences = await store.list_silences(now) if transitions and notifiers else []
    messages = build_messages(
        transitions,
        notifiers,
        silences,
        now,
        resets_at=resets_at,
        display_unit=display_unit,
        horizon=horizon,
    )
    if forecasts:
        return await store.save_alerts(states, messages, delete, forecasts=forecasts)
    return await store.save_alerts(states, messages, delete)


async def enqueue_test(
    store: OutboxStore, severity: Severity, notifiers: Sequence[NotifierSettings], now: datetime
) -> list[OutboxMessage]:
    """Queue a test message for every notifier receiving `severity`; the stored messages."""
    return await store.save_alerts([], notify_test_messages(severity, notifiers, now))


@dataclass
class DeliveryStats:
    """What one run of the worker did: deliveries per notifier and outbox rows marked sent."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    messages_sent: int = 0


def _notify_type(kind: MessageKind, severity: Severity) -> NotifyType:
    if kind in ("resolved", "period_reset"):
        return "success"
    if severity == "critical":
        return "failure"
    return "warning" if severity == "warning" else "info"


def _ids(messages: Iterable[OutboxMessage]) -> list[int]:
    return [m.id for m in messages if m.id is not None]


class OutboxWorker:
    """Sends due outbox messages; digest-mode notifiers get one combined message per run."""

    def __init__(
        self,
        store: OutboxStore,
        notifiers: Sequence[NotifierSettings],
        *,
        open_alerts: Callable[[], Awaitable[Sequence[AlertState]]] | None = None,
        sender: Sender = send,
        batch: int = 100,
        timeout: float = 60.0,
        retry_first: timedelta = FIRST_RETRY,
        retry_max: timedelta = MAX_RETRY,
    ) -> None:
        self._store = store
        self._retry = (retry_first, retry_max)
        self._open_alerts = open_alerts or (lambda: store.load_alerts())
        self._sender = sender
        self._batch = batch
        self._timeout = timeout
        self._notifiers: dict[str, NotifierSettings] = {}
        self.sent_total: Counter[str] = Counter()
        self.failed_total: Counter[str] = Counter()
        self.update_notifiers(notifiers)

    def update_notifiers(self, notifiers: Sequence[NotifierSettings]) -> None:
        """Use a new [[notifiers]] list (after a config reload); counters are kept."""
        self._notifiers = {notifier_name(n, i): n for i, n in enumerate(notifiers)}
        for name in self._notifiers:
            self.sent_total[name] += 0
            self.failed_total[name] += 0

    async def run_once(self, now: datetime) -> DeliveryStats:
        """Deliver every message due at `now`; failures are rescheduled with backoff."""
        stats = DeliveryStats()
        groups: dict[str, list[OutboxMessage]] = {}
        for message in await self._store.due_messages(now, limit=self._batch):
            groups.setdefault(message.notifier, []).append(message)
        await asyncio.gather(
            *(self._run_notifier(name, messages, now, stats) for name, messages in groups.items())
        )
        return stats

    async def _run_notifier(
        self, name: str, messages: list[OutboxMessage], now: datetime, stats: DeliveryStats
    ) -> None:
        settings = self._notifiers.get(name)
        if settings is None:
            error = f"no notifier named {name!r} is configured"
            log.warning("%d outbox message(s) wait: %s", len(messages), error)
            for message in messages:
                if message.id is not None:
                    await self._store.mark_failed(message.id, now, error, now + MAX_RETRY)
            return
        singles = [m for m in messages if settings.mode == "immediate" or m.kind == "test"]
        for message in singles:
            body, fmt = self._body(settings, message)
            ok = await self._deliver(
                name,
                settings,
                [message],
                message.title,
                body,
                fmt,
                _notify_type(message.kind, message.severity),
                now,
                stats,
            )
            if not ok:
                return  # the channel is likely down: the rest waits for the next run
        if settings.mode == "digest" and len(singles) < len(messages):
            await self._send_digest(name, settings, now, stats, claimed=set(_ids(messages)))

    @staticmethod
    def _body(settings: NotifierSettings, message: OutboxMessage) -> tuple[str, BodyFormat]:
        if settings.format == "markdown":
            return message.body_markdown, "markdown"
        return message.body_text, "text"

    async def _send_digest(
        self,
        name: str,
        settings: NotifierSettings,
        now: datetime,
        stats: DeliveryStats,
        claimed: Collection[int] = (),
    ) -> None:
        # `claimed`: due messages this run took (a cluster member claims them by moving their
        # next attempt forward, so they no longer look due).
        changes = [
            m
            for m in await self._store.pending_messages(name)
            if (m.next_attempt_at <= now or m.id in claimed) and m.kind != "test"
        ]
        if not changes:
            return
        still_open = await self._still_open(settings, now)
        title, text, markdown = render_digest_messages(changes, still_open, now)
        fmt: BodyFormat = settings.format
        body = markdown if fmt == "markdown" else text
        severities = [m.severity for m in changes if m.kind in _OPEN_KINDS]
        worst: Severity = min(severities, key=_SEVERITY_ORDER.__getitem__, default="info")
        notify_type = _notify_type("firing" if severities else "resolved", worst)
        await self._deliver(name, settings, changes, title, body, fmt, notify_type, now, stats)

    async def _still_open(self, settings: NotifierSettings, now: datetime) -> list[AlertState]:
        silences = await self._store.list_silences(now)
        alerts = [
            a
            for a in await self._open_alerts()
            if a.status == "firing"
            and a.severity in settings.severities
            and not is_silenced(a, silences, now)
        ]
        return sorted(
            alerts,
            key=lambda a: (_SEVERITY_ORDER.get(a.severity, 9), -(a.ratio or 0.0), a.fingerprint),
        )

    async def _deliver(
        self,
        name: str,
        settings: NotifierSettings,
        messages: Sequence[OutboxMessage],
        title: str,
        body: str,
        body_format: BodyFormat,
        notify_type: NotifyType,
        now: datetime,
        stats: DeliveryStats,
    ) -> bool:
        """Send one delivery covering `messages`; mark them sent, or failed with backoff.

        They are marked in flight first: if the daemon dies during the send, the restart
        resends them only after the retry delay, under the same message id (see
        docs/notifications.md for when a receiver can see a message twice)."""
        attempts = max(m.attempts for m in messages)
        retry_at = now + retry_delay(attempts, *self._retry)
        try:
            await self._store.mark_in_flight(_ids(messages), now, retry_at)
        except ClaimLost as exc:  # another cluster member sends it: not a failure
            log.info("notifier %s: %s", name, exc, extra={"notifier": name})
            return False
        ok, error = await self._sender(
            with_message_id(settings.url.get_secret_value(), message_id(messages)),
            title,
            body,
            body_format,
            notify_type=notify_type,
            time_limit=self._timeout,
        )
        if ok:
            await self._store.mark_sent(_ids(messages), now)
            self.sent_total[name] += 1
            stats.sent[name] += 1
            stats.messages_sent += len(messages)
            log.info(
                "notifier %s: sent %r",
                name,
                title,
                extra={"notifier": name, "messages": len(messages)},
            )
            return True
        error = error or "delivery failed"
        for failed_id in _ids(messages):
            await self._store.mark_failed(failed_id, now, error, retry_at)
        self.failed_total[name] += 1
        stats.failed[name] += 1
        log.warning(
            "notifier %s: delivery failed (attempt %d), retrying at %s: %s",
            name,
            attempts + 1,
            retry_at.isoformat(),
            error,
            extra={
                "notifier": name,
                "attempt": attempts + 1,
                "retry_at": retry_at.isoformat(),
                "error": error,
            },
        )
        return False
