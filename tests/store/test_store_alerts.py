"""Tests of the store's alert state, notification outbox and silences on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from quota_watch.model import AlertState, OutboxMessage, Silence
from quota_watch.store import outbox as outbox_module
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading, StoreError
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.tables import OUTBOX
from tests.support import oldschema

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))
NEW_TABLES = {"alert_state", "outbox", "silence"}


def alert(fingerprint: str = "fp-a", **changes: Any) -> AlertState:
    """A firing threshold alert with every optional field set."""
    base = AlertState(
        fingerprint=fingerprint,
        kind="threshold",
        alertname="QuotaAlmostFull",
        provider="cloudflare",
        account="acc-a",
        group="prod",
        limit="workers_requests",
        resource="my-worker",
        period_start=datetime(2025, 6, 1, tzinfo=UTC),
        period_end=datetime(2025, 6, 2, tzinfo=UTC),
        status="firing",
        severity="warning",
        pending_runs=2,
        started_at=T0 - timedelta(minutes=10),
        fired_at=T0 - timedelta(minutes=5),
        resolved_at=None,
        last_notified_at=T0 - timedelta(minutes=5),
        next_reminder_at=T0 + timedelta(hours=4),
        reminder_interval_seconds=14400.0,
        value=85000.0,
        cap=100000.0,
        ratio=0.85,
        forecast_value=120000.5,
        exhausts_at=T0 + timedelta(hours=7, microseconds=123456),
        unit="count",
        updated_at=T0,
    )
    return dataclasses.replace(base, **changes)


def bare_alert(fingerprint: str = "fp-stale", **changes: Any) -> AlertState:
    """A pending per-account alert with every optional field None."""
    base = AlertState(
        fingerprint=fingerprint,
        kind="stale",
        alertname="QuotaDataStale",
        provider="github",
        account="acc-b",
        group=None,
        limit=None,
        resource=None,
        period_start=None,
        period_end=None,
        status="pending",
        severity="info",
        pending_runs=0,
        started_at=T0,
        fired_at=None,
        resolved_at=None,
        last_notified_at=None,
        next_reminder_at=None,
        reminder_interval_seconds=0.0,
        value=0.0,
        cap=None,
        ratio=None,
        forecast_value=None,
        exhausts_at=None,
        unit="",
        updated_at=T0,
    )
    return dataclasses.replace(base, **changes)


def message(
    notifier: str = "ops",
    title: str = "Workers requests at 85%",
    *,
    created_at: datetime = T0,
    next_attempt_at: datetime | None = None,
    **changes: Any,
) -> OutboxMessage:
    """An unsent firing message, due at its creation unless told otherwise."""
    base = OutboxMessage(
        id=None,
        notifier=notifier,
        fingerprint="fp-a",
        kind="firing",
        severity="warning",
        title=title,
        body_text="cloudflare acc-a workers_requests: 85000 of 100000 (85%)",
        body_markdown="**cloudflare** `acc-a` workers_requests: 85000 of 100000 (85%)",
        created_at=created_at,
        next_attempt_at=next_attempt_at or created_at,
        attempts=0,
        sent_at=None,
        last_error=None,
    )
    return dataclasses.replace(base, **changes)


def silence(ends_in: timedelta = timedelta(hours=24), **changes: Any) -> Silence:
    """A silence of cloudflare kv_writes that started at T0."""
    base = Silence(
        id=None,
        matchers={"provider": "cloudflare", "limit": "kv_writes"},
        starts_at=T0,
        ends_at=T0 + ends_in,
        reason="migrating KV namespace",
        created_by="alice",
        created_at=T0,
    )
    return dataclasses.replace(base, **changes)


async def count_rows(store: Store, table: str) -> int:
    """Rows in `table`."""
    async with store.engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def outbox_rows(store: Store) -> dict[int, dict[str, Any]]:
    """Every outbox row, sent or not, by id (with the columns OutboxMessage does not carry)."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(OUTBOX))).mappings().all()
    return {int(row["id"]): dict(row) for row in rows}


def datetimes_of(obj: AlertState | OutboxMessage | Silence) -> list[datetime]:
    """Every datetime field value of a stored object."""
    values = (getattr(obj, f.name) for f in dataclasses.fields(obj))
    return [value for value in values if isinstance(value, datetime)]


# --- alert state ------------------------------------------------------------------------------


async def test_alert_state_round_trips_every_field(store: Store) -> None:
    full = alert(
        # Another offset on the way in: the same instants come back, in UTC.
        started_at=(T0 - timedelta(minutes=10)).astimezone(PLUS2),
        exhausts_at=(T0 + timedelta(hours=7, microseconds=123456)).astimezone(PLUS2),
    )
    bare = bare_alert()
    assert await store.save_alerts([full, bare], []) == []
    loaded = await store.load_alerts()
    assert loaded == [full, bare]  # by account: acc-a, acc-b
    for state in loaded:
        assert all(moment.tzinfo is UTC for moment in datetimes_of(state))
    assert loaded[0].started_at.hour == 11 and loaded[0].exhausts_at is not None
    assert loaded[0].exhausts_at.microsecond == 123456

    # Upsert by fingerprint: every column takes the new value, None included.
    resolved = alert(
        status="resolved",
        severity="critical",
        alertname="QuotaFullyUsed",
        group=None,
        resource=None,
        period_start=None,
        period_end=None,
        pending_runs=0,
        fired_at=None,
        resolved_at=T0 + timedelta(hours=1),
        last_notified_at=None,
        next_reminder_at=None,
        reminder_interval_seconds=28800.0,
        value=1.5,
        cap=None,
        ratio=None,
        forecast_value=None,
        exhausts_at=None,
        unit="bytes",
        updated_at=T0 + timedelta(hours=1),
    )
    filled = bare_alert(
        group="g",
        limit="l",
        resource="r",
        period_start=T0,
        period_end=T0 + timedelta(days=1),
        fired_at=T0,
        resolved_at=T0,
        last_notified_at=T0,
        next_reminder_at=T0,
        cap=0.0,
        ratio=0.0,
        forecast_value=-3.25,
        exhausts_at=T0,
    )
    await store.save_alerts([resolved, filled], [])
    assert await store.load_alerts(include_resolved=True) == [resolved, filled]
    assert await count_rows(store, "alert_state") == 2


async def test_load_alerts_filters_and_orders(store: Store) -> None:
    states = [
        alert("fp-3", account="acc-b"),
        alert("fp-2", account="acc-a"),
        alert("fp-1", account="acc-b", status="pending"),
        alert("fp-0", account="acc-a", status="resolved", resolved_at=T0),
    ]
    await store.save_alerts(states, [])
    assert [s.fingerprint for s in await store.load_alerts()] == ["fp-2", "fp-1", "fp-3"]
    assert [s.fingerprint for s in await store.load_alerts(include_resolved=True)] == [
        "fp-0",
        "fp-2",
        "fp-1",
        "fp-3",
    ]
    assert [s.fingerprint for s in await store.load_alerts(account="acc-b")] == ["fp-1", "fp-3"]
    assert [
        s.fingerprint for s in await store.load_alerts(account="acc-a", include_resolved=True)
    ] == ["fp-0", "fp-2"]
    assert await store.load_alerts(account="nobody", include_resolved=True) == []


async def test_save_alerts_deletes_and_last_state_wins(store: Store) -> None:
    await store.save_alerts([alert("fp-1"), alert("fp-2"), alert("fp-3")], [])
    await store.save_alerts(
        [alert("fp-4", value=1.0), alert("fp-4", value=2.0)],
        [],
        delete=["fp-1", "fp-3", "fp-3", "never-stored"],
    )
    loaded = await store.load_alerts()
    assert [(s.fingerprint, s.value) for s in loaded] == [("fp-2", 85000.0), ("fp-4", 2.0)]
    await store.save_alerts([], [], delete=["fp-2"])  # a delete alone
    assert [s.fingerprint for s in await store.load_alerts()] == ["fp-4"]
    with pytest.raises(ValueError, match="both saved and deleted: fp-4"):
        await store.save_alerts([alert("fp-4", value=3.0)], [], delete=["fp-4"])
    assert [(s.fingerprint, s.value) for s in await store.load_alerts()] == [("fp-4", 2.0)]
    assert await store.save_alerts([], []) == []


async def test_save_alerts_is_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = [alert("fp-keep"), alert("fp-doomed")]
    await store.save_alerts(before, [message(title="earlier")])
    [earlier] = await store.pending_messages("ops")

    real = outbox_module.message_params

    def second_row_breaks(msg: OutboxMessage) -> dict[str, Any]:
        row = real(msg)
        if msg.title == "second":
            row["title"] = None  # NOT NULL: the database itself refuses, mid-transaction
        return row

    monkeypatch.setattr(outbox_module, "message_params", second_row_breaks)
    with pytest.raises(StoreError, match=f"saving alerts failed on {store.display_url}"):
        await store.save_alerts(
            [alert("fp-keep", value=99.0, status="resolved"), alert("fp-new")],
            [message(title="first"), message(title="second")],
            delete=["fp-doomed"],
        )
    # Neither the upsert, the insert of a new state, the delete, nor the first message stuck.
    assert await store.load_alerts(include_resolved=True) == before[::-1]  # by fingerprint
    assert await store.pending_messages("ops") == [earlier]
    assert await count_rows(store, "outbox") == 1

    monkeypatch.setattr(outbox_module, "message_params", real)
    stored = await store.save_alerts([alert("fp-new")], [message(title="first")])
    assert [m.title for m in stored] == ["first"]
    assert stored[0].id is not None and earlier.id is not None and stored[0].id > earlier.id


async def test_bad_alerts_and_messages_write_nothing(store: Store) -> None:
    naive = datetime(2025, 6, 1, 12, 0)
    for states, messages, match in [
        ([alert(status="open")], [], "status must be one of"),
        ([alert(severity="fatal")], [], "severity must be one of"),
        ([alert(value=math.nan)], [], "value must be finite"),
        ([alert(ratio=math.inf)], [], "ratio must be finite"),
        ([alert(pending_runs=-1)], [], "pending_runs must be >= 0"),
        ([alert(fired_at=naive)], [], "fired_at must be a timezone-aware"),
        ([alert(fingerprint="")], [], "fingerprint must not be empty"),
        ([alert()], [message(kind="shout")], "kind must be one of"),
        ([alert()], [message(severity="urgent")], "severity must be one of"),
        ([alert()], [message(created_at=naive)], "created_at must be a timezone-aware"),
        ([alert()], [message(id=7)], "already has id 7"),
        ([alert()], [message(attempts=-1)], "attempts must be >= 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            await store.save_alerts(states, messages)
    assert await store.load_alerts(include_resolved=True) == []
    assert await count_rows(store, "outbox") == 0


# --- outbox -----------------------------------------------------------------------------------


async def test_messages_round_trip_every_field(store: Store) -> None:
    plain = message(fingerprint=None, kind="test", severity="info", title="Test 'message' ✓")
    full = message(
        "chat",
        "Reminder",
        created_at=T0.astimezone(PLUS2),
        next_attempt_at=T0 + timedelta(minutes=3),
        kind="reminder",
        severity="critical",
        attempts=3,
        last_error="HTTP 502 from receiver",
        body_text="line 1\nline 2",
        body_markdown="# Title\n\n- *item*",
    )
    long_error = message("ops", "long", last_error="e" * 50_000)
    stored = await store.save_alerts([], [plain, full, long_error])
    ids = [m.id or 0 for m in stored]
    assert all(m.id is not None for m in stored)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert stored[:2] == [
        dataclasses.replace(plain, id=ids[0]),
        dataclasses.replace(full, id=ids[1]),
    ]
    assert stored[2].last_error is not None and 100 < len(stored[2].last_error) <= 4000

    pending = await store.pending_messages("ops") + await store.pending_messages("chat")
    assert pending == [stored[0], stored[2], stored[1]]
    for msg in pending:
        assert all(moment.tzinfo is UTC for moment in datetimes_of(msg))

    # A message queued as already sent (say, a record of a test) keeps its sent_at.
    [sent] = await store.save_alerts([], [message("ops", "done", sent_at=T0)])
    assert sent.sent_at == T0
    assert (await outbox_rows(store))[sent.id or 0]["sent_at"] == T0
    assert await store.pending_messages("ops") == [stored[0], stored[2]]


async def test_due_messages_order_and_due_time(store: Store) -> None:
    now = T0 + timedelta(hours=1)
    stored = await store.save_alerts(
        [],
        [
            message(title="newest", created_at=now - timedelta(minutes=1)),
            message(title="oldest", created_at=now - timedelta(hours=2)),
            message(
                title="not due",
                created_at=now - timedelta(hours=3),
                next_attempt_at=now + timedelta(seconds=1),
            ),
            message(
                "chat",
                title="due exactly now",
                created_at=now - timedelta(minutes=30),
                next_attempt_at=now,
            ),
            message(title="tie a", created_at=now - timedelta(minutes=10)),
            message(title="tie b", created_at=now - timedelta(minutes=10)),
            message(
                title="sent", created_at=now - timedelta(hours=5), sent_at=now - timedelta(hours=4)
            ),
        ],
    )
    due = await store.due_messages(now)
    assert [m.title for m in due] == ["oldest", "due exactly now", "tie a", "tie b", "newest"]
    assert due[0] == stored[1]
    assert [m.title for m in await store.due_messages(now, limit=2)] == [
        "oldest",
        "due exactly now",
    ]
    assert (await store.due_messages(now + timedelta(seconds=1)))[0].title == "not due"
    assert await store.due_messages(now - timedelta(hours=3)) == []
    with pytest.raises(ValueError, match="limit must be >= 1"):
        await store.due_messages(now, limit=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.due_messages(datetime(2025, 6, 1))


async def test_mark_failed_and_mark_sent(store: Store) -> None:
    first, second, other = await store.save_alerts(
        [], [message(title="one"), message(title="two"), message("chat", title="three")]
    )
    assert first.id is not None and second.id is not None and other.id is not None
    retry_at = T0 + timedelta(minutes=5)
    await store.mark_failed(first.id, T0, "connection refused", retry_at)
    assert [m.title for m in await store.due_messages(T0)] == ["two", "three"]
    [failed] = [m for m in await store.pending_messages("ops") if m.id == first.id]
    assert (failed.attempts, failed.last_error, failed.next_attempt_at) == (
        1,
        "connection refused",
        retry_at,
    )
    later = T0 + timedelta(minutes=6)
    await store.mark_failed(first.id, later, "x" * 50_000, later + timedelta(minutes=10))
    [failed] = [m for m in await store.pending_messages("ops") if m.id == first.id]
    assert failed.attempts == 2
    assert failed.last_error is not None and 100 < len(failed.last_error) <= 4000
    assert failed.next_attempt_at == later + timedelta(minutes=10)
    assert (await outbox_rows(store))[first.id]["last_attempt_at"] == later

    assert await store.outbox_depth() == {"chat": 1, "ops": 2}
    sent_at = T0 + timedelta(minutes=7)
    await store.mark_sent([second.id, other.id, second.id], sent_at)
    assert await store.outbox_depth() == {"ops": 1}
    assert [m.title for m in await store.due_messages(T0 + timedelta(days=1))] == ["one"]
    assert await store.pending_messages("chat") == []
    rows = await outbox_rows(store)
    assert rows[second.id]["sent_at"] == sent_at and rows[second.id]["attempts"] == 0

    # Marking again, failing a sent message, or unknown ids change nothing.
    await store.mark_sent([second.id, 999_999], sent_at + timedelta(hours=1))
    await store.mark_failed(second.id, sent_at, "late failure", sent_at)
    await store.mark_failed(999_999, sent_at, "nobody", sent_at)
    await store.mark_sent([], sent_at)
    assert (await outbox_rows(store))[second.id] == rows[second.id]
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.mark_sent([first.id], datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.mark_failed(first.id, T0, "x", datetime(2025, 6, 1))


async def test_outbox_depth_per_notifier(store: Store) -> None:
    assert await store.outbox_depth() == {}
    stored = await store.save_alerts(
        [],
        [
            message("ops"),
            message("chat"),
            message("ops"),
            message("mail", sent_at=T0),
            message("pager", next_attempt_at=T0 + timedelta(days=1)),  # not due: still queued
        ],
    )
    assert await store.outbox_depth() == {"chat": 1, "ops": 2, "pager": 1}
    await store.mark_sent([m.id for m in stored if m.notifier == "chat" and m.id], T0)
    assert await store.outbox_depth() == {"ops": 2, "pager": 1}


async def test_concurrent_alert_writers(store: Store) -> None:
    async def one(i: int) -> None:
        [msg] = await store.save_alerts(
            [alert(f"fp-{i:02d}", value=float(i))], [message(title=f"m{i}")]
        )
        assert msg.id is not None
        if i % 2:
            await store.mark_sent([msg.id], T0)
        else:
            await store.mark_failed(msg.id, T0, "down", T0 + timedelta(minutes=1))

    results = await asyncio.gather(*(one(i) for i in range(30)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(await store.load_alerts()) == 30
    assert await store.outbox_depth() == {"ops": 15}
    assert await store.due_messages(T0) == []
    assert len(await store.due_messages(T0 + timedelta(minutes=1))) == 15


# --- silences ---------------------------------------------------------------------------------


async def test_silences_add_list_remove(store: Store) -> None:
    now = T0 + timedelta(hours=1)
    tricky = {"account": 'acc "quoted" ✓', "alertname": "QuotaFullyUsed", "kind": "threshold"}
    active = await store.add_silence(silence())
    future = await store.add_silence(
        dataclasses.replace(
            silence(), matchers=tricky, starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=2), reason="", created_by="bob", created_at=now,
        )
    )  # fmt: skip
    ended = await store.add_silence(silence(timedelta(hours=1)))  # ends exactly at `now`
    assert active.id is not None and future.id is not None and ended.id is not None
    assert active.id < future.id < ended.id
    assert active == dataclasses.replace(silence(), id=active.id)
    assert future.matchers == tricky

    assert await store.list_silences(now) == [active, future]
    assert await store.list_silences(now, include_expired=True) == [active, future, ended]
    listed = await store.list_silences(now)
    assert all(moment.tzinfo is UTC for s in listed for moment in datetimes_of(s))
    assert isinstance(listed[1].matchers, dict) and listed[1].matchers == tricky

    assert await store.remove_silence(active.id) is True
    assert await store.remove_silence(active.id) is False
    assert await store.list_silences(now) == [future]
    assert await store.remove_silence(ended.id) is True  # the newest: SQLite would reuse its id
    again = await store.add_silence(silence())
    assert again.id is not None and again.id > ended.id  # ids are never handed out twice
    assert await store.list_silences(now, include_expired=True) == [future, again]


async def test_expire_silences_after_a_week(store: Store) -> None:
    keep = await store.add_silence(silence(timedelta(days=1)))  # ended 7 days before `now`
    gone = await store.add_silence(silence(timedelta(hours=23)))  # ended 7 days 1 h before
    running = await store.add_silence(silence(timedelta(days=30)))
    now = T0 + timedelta(days=8)
    assert await store.expire_silences(now) == 1
    assert await store.list_silences(now, include_expired=True) == [keep, running]
    assert gone not in await store.list_silences(now, include_expired=True)
    assert await store.expire_silences(now) == 0
    assert await store.expire_silences(now + timedelta(microseconds=1)) == 1
    assert await store.list_silences(now, include_expired=True) == [running]


async def test_bad_silences_are_refused(store: Store) -> None:
    naive = datetime(2025, 6, 1, 12, 0)
    for bad, match in [
        (silence(id=3), "already has id 3"),
        (silence(matchers={}), "at least one matcher"),
        (silence(matchers={"severity": "critical"}), "unknown silence matcher"),
        (silence(matchers={"provider": 1}), "must be a string"),
        (silence(ends_in=timedelta(0)), "must be after starts_at"),
        (silence(starts_at=naive), "starts_at must be a timezone-aware"),
        (silence(created_at=naive), "created_at must be a timezone-aware"),
    ]:
        with pytest.raises(ValueError, match=match):
            await store.add_silence(bad)
    assert await store.list_silences(T0, include_expired=True) == []


def test_silence_matches() -> None:
    s = silence(timedelta(hours=2), matchers={"provider": "cloudflare", "limit": "kv_writes"})
    kv = alert(limit="kv_writes")
    assert s.matches(kv, T0)  # starts_at is inclusive
    assert s.matches(kv, T0 + timedelta(hours=2) - timedelta(microseconds=1))
    assert not s.matches(kv, T0 + timedelta(hours=2))  # ends_at is exclusive
    assert not s.matches(kv, T0 - timedelta(microseconds=1))
    assert not s.matches(alert(limit="kv_reads"), T0)  # every matcher must hold
    assert not s.matches(alert(limit="kv_writes", provider="github"), T0)
    assert not s.matches(bare_alert(), T0)  # limit is None: never equal
    by_group = silence(matchers={"group": "prod", "alertname": "QuotaAlmostFull"})
    assert by_group.matches(alert(), T0)
    assert not by_group.matches(alert(group=None), T0)
    assert not by_group.matches(alert(alertname="QuotaFullyUsed"), T0)
    assert silence(matchers={"account": "acc-b", "kind": "stale"}).matches(bare_alert(), T0)


# --- retention --------------------------------------------------------------------------------


async def test_retention_prunes_sent_messages_and_resolved_alerts(store: Store) -> None:
    now = T0 + timedelta(days=30)
    old, recent = now - timedelta(days=8), now - timedelta(days=6)
    await store.save_alerts(
        [
            alert("resolved-old", status="resolved", resolved_at=old, updated_at=old),
            alert("resolved-recent", status="resolved", resolved_at=recent, updated_at=recent),
            alert("firing-old", started_at=old, fired_at=old, updated_at=old),
            alert("pending-old", status="pending", started_at=old, fired_at=None, updated_at=old),
            # No resolved_at (should not happen): its last update counts.
            alert("resolved-no-time", status="resolved", updated_at=old),
        ],
        [
            message(title="sent-old", created_at=old, sent_at=old),
            message(title="sent-recent", created_at=old, sent_at=recent),
            message(title="unsent-old", created_at=old - timedelta(days=20)),
        ],
    )
    store._delete_batch = 1  # batches, too
    deleted = await store.apply_retention(
        now,
        samples=timedelta(days=7),
        hourly=timedelta(days=7),
        daily=timedelta(days=7),
        runs=timedelta(days=7),
    )
    assert deleted["outbox"] == 1
    assert deleted["alert_state"] == 2
    assert [s.fingerprint for s in await store.load_alerts(include_resolved=True)] == [
        "firing-old",
        "pending-old",
        "resolved-recent",
    ]
    assert sorted(r["title"] for r in (await outbox_rows(store)).values()) == [
        "sent-recent",
        "unsent-old",
    ]
    assert await store.prune_outbox(now, timedelta(days=6, hours=1)) == 0
    assert await store.prune_outbox(now, timedelta(days=5)) == 1
    assert [m.title for m in await store.due_messages(now)] == ["unsent-old"]
    with pytest.raises(ValueError, match="keep must be positive"):
        await store.prune_outbox(now, timedelta(0))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.expire_silences(datetime(2025, 6, 1))


# --- schema -----------------------------------------------------------------------------------


def test_head_revision_is_the_alembic_head() -> None:
    from quota_watch.store._migrate import script_head

    assert HEAD_REVISION == "0005"
    assert script_head() == HEAD_REVISION


def _upgrade_to(revision: str) -> Any:
    def run(conn: Connection) -> None:
        from alembic import command

        from quota_watch.store._migrate import alembic_config

        command.upgrade(alembic_config(conn), revision)

    return run


def _downgrade_to(revision: str) -> Any:
    def run(conn: Connection) -> None:
        from alembic import command

        from quota_watch.store._migrate import alembic_config

        command.downgrade(alembic_config(conn), revision)

    return run


async def _tables(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


async def test_migration_from_0001_keeps_the_data(store_url: str) -> None:
    reading = StoredReading(
        provider="cloudflare",
        account="acc-a",
        limit="requests",
        resource=None,
        unit="count",
        measure="cumulative",
        value=42.0,
        cap=100.0,
        cap_source="catalogue",
        period_start=None,
        period_end=None,
        ts=T0,
    )
    run = RunRecord("cloudflare", "acc-a", T0 - timedelta(seconds=1), T0, "success", None, 1)
    async with await Store.open(store_url, migrate=False) as old:
        async with old.engine.begin() as conn:
            await conn.run_sync(_upgrade_to("0001"))
        assert await old.schema_revision() == "0001"
        assert not NEW_TABLES & await _tables(old)
        await old.record_poll(run, [], {"cursor": "abc"})
        await oldschema.insert_reading(old, reading)
    with pytest.raises(
        StoreError, match=f"has schema revision 0001, this quota-watch needs {HEAD_REVISION}"
    ):
        await Store.open(store_url, readonly=True)

    async with await Store.open(store_url) as store:  # migrates at open
        assert await store.schema_revision() == HEAD_REVISION
        assert await _tables(store) >= NEW_TABLES
        [latest] = await store.latest()
        assert (latest.value, latest.ts) == (42.0, T0)
        assert [p.value for p in await store.samples("acc-a", "requests", None, T0)] == [42.0]
        [status] = await store.account_statuses()
        assert status.runs_total == 1
        assert await store.load_state("acc-a") == {"cursor": "abc"}
        await store.save_alerts([alert()], [message()])
        await store.add_silence(silence())
        assert await store.load_alerts() == [alert()]

        # And back: 0002's tables go, 0001's data stays.
        async with store.engine.begin() as conn:
            await conn.run_sync(_downgrade_to("0001"))
        assert await store.schema_revision() == "0001"
        assert not NEW_TABLES & await _tables(store)
        assert await oldschema.latest_values(store) == [42.0]
        assert await store.migrate() == HEAD_REVISION
        assert await store.load_alerts(include_resolved=True) == []


async def test_readonly_store_refuses_alert_writes(store_url: str) -> None:
    writer = await Store.open(store_url)
    reader = await Store.open(store_url, readonly=True)
    try:
        [msg] = await writer.save_alerts([alert()], [message()])
        assert msg.id is not None
        kept = await writer.add_silence(silence())
        assert await reader.load_alerts() == [alert()]
        assert await reader.due_messages(T0) == [msg]
        assert await reader.outbox_depth() == {"ops": 1}
        assert await reader.list_silences(T0) == [kept]
        for attempt in (
            reader.save_alerts([alert("fp-other")], []),
            reader.save_alerts([], [message()]),
            reader.mark_sent([msg.id], T0),
            reader.mark_failed(msg.id, T0, "x", T0),
            reader.prune_outbox(T0 + timedelta(days=1), timedelta(hours=1)),
            reader.add_silence(silence()),
            reader.remove_silence(kept.id or 0),
        ):
            with pytest.raises(StoreError, match=r"read-?only"):
                await attempt
        assert await writer.load_alerts() == [alert()]
        assert await writer.due_messages(T0) == [msg]
        assert await writer.list_silences(T0) == [kept]
    finally:
        await reader.close()
        await writer.close()
