"""Group commit: polls (and alert saves) that finish together share one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from quota_watch.model import AccountStatus
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading, StoreError

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def reading(account: str, value: float, ts: datetime, resource: str | None = None) -> StoredReading:
    return StoredReading(
        provider="p",
        account=account,
        limit="requests",
        resource=resource,
        unit="count",
        measure="level",
        value=value,
        cap=100.0,
        cap_source="api",
        period_start=None,
        period_end=None,
        ts=ts,
    )


def run(account: str, at: datetime, outcome: str = "success", readings: int = 1) -> RunRecord:
    error = None if outcome == "success" else "HTTP 503"
    return RunRecord("p", account, at, at, outcome, error, readings)


def count_commits(store: Store) -> list[int]:
    commits = [0]

    @event.listens_for(store.engine.sync_engine, "commit")
    def _counted(conn: Any) -> None:
        commits[0] += 1

    return commits


async def test_polls_finishing_together_share_one_transaction(store: Store) -> None:
    commits = count_commits(store)
    accounts = [f"acct-{i:02}" for i in range(20)]
    await asyncio.gather(
        *(
            store.record_poll(
                run(a, T0, readings=2),
                [reading(a, 1.0, T0), reading(a, 2.0, T0, resource="r1")],
                {"cursor": a},
            )
            for a in accounts
        )
    )
    assert commits[0] == 1
    latest = await store.latest()
    assert len(latest) == 40
    assert {(r.account, r.resource, r.value) for r in latest} == {
        (a, res, v) for a in accounts for res, v in ((None, 1.0), ("r1", 2.0))
    }
    assert await store.load_state("acct-07") == {"cursor": "acct-07"}
    statuses = await store.account_statuses()
    assert [s.runs_total for s in statuses] == [1] * 20


async def test_two_polls_of_one_account_in_one_batch_apply_in_order(store: Store) -> None:
    later = T0 + timedelta(minutes=1)
    await asyncio.gather(
        store.record_poll(run("a1", T0), [reading("a1", 5.0, T0)], {"n": 1}),
        store.record_poll(run("a1", later, "unavailable", readings=0), [], None),
        store.record_poll(run("a1", later, readings=1), [reading("a1", 5.0, later)], {"n": 3}),
    )
    [status] = await store.account_statuses(account="a1")
    assert (status.runs_total, status.failures_total, status.consecutive_failures) == (3, 1, 0)
    assert await store.load_state("a1") == {"n": 3}
    points = await store.samples("a1", "requests", None, T0)
    assert [p.ts for p in points] == [T0, later]


async def test_each_poll_gets_its_accounts_status_as_the_store_counts_it(
    store: Store, store_url: str
) -> None:
    # Another process (`quota-watch collect`) records a failed poll of a1 first: the status
    # the daemon's next poll gets back counts it, as the store's upsert does.
    other = await Store.open(store_url)
    try:
        await other.record_poll(run("a1", T0, "unavailable", readings=0), [], None)
    finally:
        await other.close()
    later = T0 + timedelta(minutes=1)
    first, second, third = await asyncio.gather(
        store.record_poll(run("a1", later, "unavailable", readings=0), [], None),
        store.record_poll(run("a2", later), [reading("a2", 1.0, later)]),
        store.record_poll(run("a2", later + timedelta(seconds=1)), [reading("a2", 2.0, later)]),
    )
    assert (first.account, first.runs_total, first.consecutive_failures) == ("a1", 2, 2)
    assert first.last_success_at is None and first.last_outcome == "unavailable"
    # two polls of one account in one transaction: both get the status both left
    assert second == third == (await store.account_statuses(account="a2"))[0]
    assert second.runs_total == 2 and second.last_run_at == later + timedelta(seconds=1)


async def test_a_failing_write_fails_only_its_caller(store: Store) -> None:
    async def broken(conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT * FROM no_such_table"))

    results = await asyncio.gather(
        store.record_poll(run("a1", T0), [reading("a1", 1.0, T0)]),
        store._group_commit("doing something broken", job=broken),
        store.record_poll(run("a2", T0), [reading("a2", 2.0, T0)]),
        return_exceptions=True,
    )
    # each poll gets its own account's status back, written in its retry transaction
    first, _, last = results
    assert isinstance(first, AccountStatus) and isinstance(last, AccountStatus)
    assert [(s.account, s.runs_total) for s in (first, last)] == [("a1", 1), ("a2", 1)]
    assert isinstance(results[1], StoreError)
    assert "doing something broken failed" in str(results[1])
    assert {r.account for r in await store.latest()} == {"a1", "a2"}


async def test_close_waits_for_queued_polls(store_url: str) -> None:
    store = await Store.open(store_url)
    pending = [
        asyncio.ensure_future(store.record_poll(run(f"a{i}", T0), [reading(f"a{i}", 1.0, T0)]))
        for i in range(5)
    ]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*pending)
    reopened = await Store.open(store_url)
    try:
        assert len(await reopened.latest()) == 5
    finally:
        await reopened.close()


async def test_bad_input_is_refused_before_it_is_queued(store: Store) -> None:
    commits = count_commits(store)
    with pytest.raises(ValueError, match="is for account"):
        await store.record_poll(run("a1", T0), [reading("a2", 1.0, T0)])
    assert commits[0] == 0 and await store.latest() == []
