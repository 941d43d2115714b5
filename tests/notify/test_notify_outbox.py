"""The outbox worker: queueing, delivery to a loopback webhook, backoff across restarts, digests."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import pytest

from quota_watch.model import AlertState, MessageKind, OutboxMessage, Silence
from quota_watch.notify.config import NotifierSettings
from quota_watch.notify.outbox import (
    OutboxStore,
    OutboxWorker,
    build_messages,
    enqueue,
    enqueue_test,
    retry_delay,
)
from quota_watch.store.facade import Store
from quota_watch.store.models import StoredForecast
from tests.support.factories import make_alert

NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)


class FakeStore:
    """The outbox half of quota_watch.store.facade.Store, in memory, with the same semantics."""

    def __init__(self) -> None:
        self.alerts: dict[str, AlertState] = {}
        self.messages: dict[int, OutboxMessage] = {}
        self.silences: list[Silence] = []
        self.forecasts: dict[tuple[str, str, str | None], StoredForecast] = {}
        self._next_id = 1

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        return [
            a
            for a in self.alerts.values()
            if (account is None or a.account == account)
            and (include_resolved or a.status != "resolved")
        ]

    async def save_alerts(
        self,
        states: Sequence[AlertState],
        messages: Sequence[OutboxMessage],
        delete: Sequence[str] = (),
        *,
        forecasts: Sequence[StoredForecast] = (),
    ) -> list[OutboxMessage]:
        for forecast in forecasts:  # the latest forecast per series, as the store keeps
            self.forecasts[(forecast.account, forecast.limit, forecast.resource)] = forecast
        for state in states:
            self.alerts[state.fingerprint] = state
        for fingerprint in delete:
            self.alerts.pop(fingerprint, None)
        stored = []
        for message in messages:
            message = replace(message, id=self._next_id)
            self.messages[self._next_id] = message
            self._next_id += 1
            stored.append(message)
        return stored

    async def due_messages(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        due = [m for m in self.messages.values() if m.sent_at is None and m.next_attempt_at <= now]
        return sorted(due, key=lambda m: (m.created_at, m.id or 0))[:limit]

    async def pending_messages(self, notifier: str) -> list[OutboxMessage]:
        pending = [
            m for m in self.messages.values() if m.sent_at is None and m.notifier == notifier
        ]
        return sorted(pending, key=lambda m: (m.created_at, m.id or 0))

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        for id in ids:
            if self.messages[id].sent_at is None:
                self.messages[id] = replace(self.messages[id], sent_at=now)

    async def mark_failed(
        self, id: int, now: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        message = self.messages[id]
        if message.sent_at is not None:
            return
        self.messages[id] = replace(
            message,
            attempts=message.attempts + 1,
            last_error=error,
            next_attempt_at=next_attempt_at,
        )

    async def mark_in_flight(
        self, ids: Sequence[int], now: datetime, next_attempt_at: datetime
    ) -> None:
        for id in ids:
            if self.messages[id].sent_at is None:
                self.messages[id] = replace(self.messages[id], next_attempt_at=next_attempt_at)

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        return [s for s in self.silences if include_expired or s.ends_at > now]

    async def add_silence(self, silence: Silence) -> Silence:
        silence = replace(silence, id=len(self.silences) + 1)
        self.silences.append(silence)
        return silence

    async def outbox_depth(self) -> dict[str, int]:
        depth: dict[str, int] = {}
        for m in self.messages.values():
            if m.sent_at is None:
                depth[m.notifier] = depth.get(m.notifier, 0) + 1
        return dict(sorted(depth.items()))


class AnyStore(OutboxStore, Protocol):
    """What these tests use: the outbox methods plus silences and depth."""

    async def add_silence(self, silence: Silence) -> Silence:
        """Store a silence."""
        ...

    async def outbox_depth(self) -> dict[str, int]:
        """Unsent messages per notifier."""
        ...


@pytest.fixture(params=["fake", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    """The in-memory fake, and the real store on SQLite: the worker must behave the same."""
    if request.param == "fake":
        yield FakeStore()
        return
    real = await Store.open(f"sqlite:///{tmp_path / 'qw.db'}")
    try:
        yield real
    finally:
        await real.close()


def silence(matchers: dict[str, str]) -> Silence:
    return Silence(
        id=None,
        matchers=matchers,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=23),
        reason="migration",
        created_by="ops",
        created_at=NOW - timedelta(hours=1),
    )


@dataclass
class Receiver:
    """A webhook endpoint on loopback answering `status`; records every accepted payload."""

    port: int
    status: int = 200
    accepted: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            state.attempts += 1
            if state.status == 200:
                state.accepted.append({"path": self.path, **payload})
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def alert(**changes: Any) -> AlertState:
    return make_alert(NOW, **{**{}, **changes})


KV = alert(
    fingerprint="fedcba9876543210",
    alertname="QuotaAlmostFull",
    severity="warning",
    limit="kv_writes",
    value=850.0,
    cap=1000.0,
    ratio=0.85,
)


def notifier(url: str, **data: Any) -> NotifierSettings:
    return NotifierSettings.model_validate({"url": url, **data})


def test_retry_delay_doubles_from_30s_and_caps_at_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in range(9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert retry_delay(10_000) == timedelta(hours=1)


async def test_enqueue_saves_states_and_one_message_per_routed_notifier(
    store: AnyStore, receiver: Receiver
) -> None:
    notifiers = [
        notifier(receiver.url("a"), name="pager", severities=["critical"]),
        notifier(receiver.url("b"), name="chat", severities=["warning"]),
    ]
    stored = await enqueue(
        store, [alert(), KV], [("firing", alert()), ("firing", KV)], notifiers, NOW
    )
    assert {a.fingerprint for a in await store.load_alerts()} == {
        "0123456789abcdef",
        "fedcba9876543210",
    }
    assert [(m.notifier, m.kind, m.severity, m.next_attempt_at) for m in stored] == [
        ("pager", "firing", "critical", NOW),
        ("chat", "firing", "warning", NOW),
    ]
    assert all(m.id is not None for m in stored)
    assert stored[0].title == "[CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k"
    assert stored[0].body_text.startswith("Firing: ")
    assert stored[0].body_markdown.startswith("**Firing: ")
    assert stored[0].fingerprint == "0123456789abcdef"
    assert await store.pending_messages("pager") == [stored[0]]


async def test_silenced_alert_is_saved_but_queues_nothing(
    store: AnyStore, receiver: Receiver
) -> None:
    await store.add_silence(silence({"provider": "cloudflare", "limit": "kv_writes"}))
    stored = await enqueue(store, [KV], [("firing", KV)], [notifier(receiver.url())], NOW)
    assert stored == []
    assert await store.outbox_depth() == {}
    assert await store.load_alerts() == [KV]


async def test_delivers_due_messages_and_marks_them_sent(
    store: AnyStore, receiver: Receiver
) -> None:
    notifiers = [
        notifier(receiver.url("md")),
        notifier(receiver.url("txt"), name="plain", format="text"),
    ]
    await enqueue(store, [alert()], [("firing", alert())], notifiers, NOW)
    assert await store.outbox_depth() == {"notifier-0": 1, "plain": 1}
    worker = OutboxWorker(store, notifiers)
    stats = await worker.run_once(NOW)
    assert (dict(stats.sent), dict(stats.failed), stats.messages_sent) == (
        {"notifier-0": 1, "plain": 1},
        {},
        2,
    )
    by_path = {r["path"]: r for r in receiver.accepted}
    assert by_path["/md"]["message"].startswith("**Firing: ")
    assert by_path["/txt"]["message"].startswith("Firing: ")
    assert by_path["/md"]["title"] == (
        "[CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k"
    )
    assert by_path["/md"]["type"] == "failure"
    assert await store.outbox_depth() == {}
    assert dict(worker.sent_total) == {"notifier-0": 1, "plain": 1}
    assert dict(worker.failed_total) == {"notifier-0": 0, "plain": 0}
    assert (await worker.run_once(NOW + timedelta(minutes=1))).messages_sent == 0
    assert len(receiver.accepted) == 2  # nothing is sent twice


async def test_failures_back_off_across_restarts_and_nothing_is_lost(
    store: AnyStore, receiver: Receiver
) -> None:
    notifiers = [notifier(receiver.url(), name="ops")]
    await enqueue(store, [alert()], [("firing", alert())], notifiers, NOW)
    receiver.status = 500

    worker = OutboxWorker(store, notifiers)
    stats = await worker.run_once(NOW)
    assert (dict(stats.sent), dict(stats.failed)) == ({}, {"ops": 1})
    (message,) = await store.pending_messages("ops")
    assert message.sent_at is None
    assert message.attempts == 1
    assert message.next_attempt_at == NOW + timedelta(seconds=30)
    assert message.last_error is not None and "500" in message.last_error

    await worker.run_once(NOW + timedelta(seconds=29))  # not due yet: no attempt
    assert receiver.attempts == 1
    await worker.run_once(NOW + timedelta(seconds=30))
    assert receiver.attempts == 2
    (message,) = await store.pending_messages("ops")
    assert message.next_attempt_at == NOW + timedelta(seconds=90)  # +60 s
    assert worker.failed_total["ops"] == 2

    # A restart: a new worker on the same store continues the backoff from the stored attempts.
    restarted = OutboxWorker(store, notifiers)
    await restarted.run_once(NOW + timedelta(seconds=90))
    (message,) = await store.pending_messages("ops")
    assert (message.attempts, message.next_attempt_at) == (3, NOW + timedelta(seconds=210))

    receiver.status = 200
    stats = await restarted.run_once(NOW + timedelta(seconds=210))
    assert dict(stats.sent) == {"ops": 1}
    assert await store.pending_messages("ops") == []
    assert [r["title"] for r in receiver.accepted] == [message.title]
    assert (restarted.sent_total["ops"], restarted.failed_total["ops"]) == (1, 1)


async def test_a_failing_channel_is_tried_once_per_run_and_others_still_deliver(
    store: AnyStore, receiver: Receiver
) -> None:
    down = notifier("json://127.0.0.1:9/hook", name="down")  # nothing listens on port 9
    up = notifier(receiver.url(), name="up")
    await enqueue(store, [alert(), KV], [("firing", alert()), ("firing", KV)], [down, up], NOW)
    stats = await OutboxWorker(store, [down, up]).run_once(NOW)
    assert (dict(stats.sent), dict(stats.failed)) == ({"up": 2}, {"down": 1})
    first, second = await store.pending_messages("down")
    assert (first.attempts, second.attempts) == (1, 0)
    assert first.last_error and "connection" in first.last_error.lower()
    assert "hook" not in first.last_error
    assert await store.outbox_depth() == {"down": 2}


async def test_digest_combines_due_changes_into_one_message(
    store: AnyStore, receiver: Receiver
) -> None:
    mail = notifier(receiver.url(), name="mail", mode="digest", digest_interval="1h", format="text")
    resolved_kv = replace(KV, status="resolved", resolved_at=NOW, value=500.0, ratio=0.5)
    other = alert(
        fingerprint="aaaa000000000000",
        account="cf-other",
        severity="warning",
        ratio=0.9,
        value=90_000.0,
    )
    silenced_open = alert(fingerprint="bbbb000000000000", account="cf-silenced")
    pending = alert(fingerprint="dddd000000000000", account="cf-pending", status="pending")
    await store.save_alerts([other, silenced_open, pending], [])
    await store.add_silence(silence({"account": "cf-silenced"}))
    await enqueue(store, [alert()], [("firing", alert())], [mail], NOW)
    await enqueue(
        store, [resolved_kv], [("resolved", resolved_kv)], [mail], NOW + timedelta(minutes=20)
    )
    boundary = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    assert {m.next_attempt_at for m in await store.pending_messages("mail")} == {boundary}

    worker = OutboxWorker(store, [mail])
    assert (await worker.run_once(NOW + timedelta(minutes=30))).messages_sent == 0
    assert receiver.attempts == 0

    stats = await worker.run_once(boundary)
    assert (dict(stats.sent), stats.messages_sent) == ({"mail": 1}, 2)
    (digest,) = receiver.accepted
    assert digest["title"] == "[DIGEST] quota-watch: 2 changes, 2 still open"
    assert digest["type"] == "failure"
    assert digest["message"] == (
        "quota-watch digest, 2026-11-22 11:00 UTC\n"
        "\n"
        "Changes (2):\n"
        "- 2026-11-22 10:05 UTC [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k\n"
        "- 2026-11-22 10:25 UTC [RESOLVED] cloudflare/cf-main kv_writes at 50% of 1k\n"
        "\n"
        "Still open (2):\n"
        "- [CRITICAL] cloudflare/cf-main workers_requests at 104% of 100k, "
        "since 2026-11-22 10:05 UTC\n"
        "- [WARNING] cloudflare/cf-other workers_requests at 90% of 100k, "
        "since 2026-11-22 10:05 UTC"
    )
    assert await store.outbox_depth() == {}


async def test_failed_digest_marks_every_change_failed_and_none_sent(
    store: AnyStore, receiver: Receiver
) -> None:
    mail = notifier(receiver.url(), name="mail", mode="digest", digest_interval="15m")
    await enqueue(store, [alert(), KV], [("firing", alert()), ("firing", KV)], [mail], NOW)
    receiver.status = 503
    boundary = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    worker = OutboxWorker(store, [mail], open_alerts=lambda: store.load_alerts())
    stats = await worker.run_once(boundary)
    assert (dict(stats.sent), dict(stats.failed), stats.messages_sent) == ({}, {"mail": 1}, 0)
    assert receiver.attempts == 1  # one combined delivery, not one per message
    pending = await store.pending_messages("mail")
    assert [(m.sent_at, m.attempts, m.next_attempt_at) for m in pending] == [
        (None, 1, boundary + timedelta(seconds=30))
    ] * 2

    # A change arriving meanwhile joins the retried digest.
    third = alert(fingerprint="cccc000000000000", account="cf-third")
    await enqueue(store, [third], [("firing", third)], [mail], boundary + timedelta(seconds=10))
    receiver.status = 200
    retry = boundary + timedelta(minutes=15)
    stats = await worker.run_once(retry)
    assert stats.messages_sent == 3
    (digest,) = receiver.accepted
    assert digest["title"] == "[DIGEST] quota-watch: 3 changes, 3 still open"
    assert digest["message"].startswith("**quota-watch digest, 2026-11-22 10:30 UTC**")
    assert await store.outbox_depth() == {}


async def test_test_messages_skip_digest_and_go_out_at_once(
    store: AnyStore, receiver: Receiver
) -> None:
    mail = notifier(receiver.url(), name="mail", mode="digest", severities=["warning"])
    pager = notifier(receiver.url(), name="pager", severities=["critical"])
    stored = await enqueue_test(store, "warning", [mail, pager], NOW)
    assert [(m.notifier, m.kind, m.fingerprint, m.next_attempt_at) for m in stored] == [
        ("mail", "test", None, NOW)
    ]
    stats = await OutboxWorker(store, [mail, pager]).run_once(NOW)
    assert dict(stats.sent) == {"mail": 1}
    assert receiver.accepted[0]["title"] == "[TEST] quota-watch test notification (warning)"


async def test_quiet_hours_hold_messages_until_the_window_ends(
    store: AnyStore, receiver: Receiver
) -> None:
    phone = notifier(
        receiver.url(),
        name="phone",
        quiet_hours={"start": "22:00", "end": "07:00", "tz": "Europe/Berlin"},
    )
    night = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    await enqueue(store, [KV], [("firing", KV)], [phone], night)
    worker = OutboxWorker(store, [phone])
    await worker.run_once(night + timedelta(hours=6, minutes=59))
    assert receiver.attempts == 0
    morning = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert (await worker.run_once(morning)).messages_sent == 1
    assert receiver.accepted[0]["title"].startswith("[WARNING] cloudflare/cf-main kv_writes")


async def test_messages_for_an_unconfigured_notifier_wait_and_say_why(
    store: AnyStore, receiver: Receiver
) -> None:
    old = notifier(receiver.url(), name="old")
    await enqueue(store, [alert()], [("firing", alert())], [old], NOW)
    worker = OutboxWorker(store, [notifier(receiver.url(), name="new")])
    stats = await worker.run_once(NOW)
    assert (dict(stats.sent), dict(stats.failed)) == ({}, {})
    (message,) = await store.pending_messages("old")
    assert message.last_error == "no notifier named 'old' is configured"
    assert message.next_attempt_at == NOW + timedelta(hours=1)
    assert receiver.attempts == 0


@dataclass(frozen=True)
class Change:
    """Shaped like quota_watch.engine's Transition."""

    kind: MessageKind
    state: AlertState


def test_build_messages_accepts_transition_objects(receiver: Receiver) -> None:
    resolved = replace(KV, status="resolved", resolved_at=NOW)
    messages = build_messages(
        [Change("firing", alert()), Change("resolved", resolved)],
        [notifier(receiver.url())],
        [],
        NOW,
    )
    assert [(m.kind, m.fingerprint) for m in messages] == [
        ("firing", alert().fingerprint),
        ("resolved", KV.fingerprint),
    ]


def test_build_messages_uses_resets_at_and_is_pure(receiver: Receiver) -> None:
    messages = build_messages(
        [("firing", alert())],
        [notifier(receiver.url())],
        [],
        NOW,
        resets_at=lambda a: datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    )
    (message,) = messages
    assert message.id is None
    assert "Resets:   in 1h 55m (2026-11-22 12:00 UTC)\n" in message.body_text
