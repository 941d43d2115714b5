"""/metrics' in-memory view follows the store's own bookkeeping, poll after poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_watch.collect.poller import PollResult
from quota_watch.daemon.livemetrics import LiveMetrics
from quota_watch.model import AccountStatus, Outcome
from quota_watch.prometheus.exposition import AccountFacts, Snapshot, render
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FACTS = [
    AccountFacts("cloudflare", "acc-a", None, 60.0),
    AccountFacts("cloudflare", "acc-b", None, 60.0),
]


def reading(
    account: str, limit: str, value: float, ts: datetime, resource: str | None = None
) -> StoredReading:
    return StoredReading(
        provider="cloudflare",
        account=account,
        limit=limit,
        resource=resource,
        unit="count",
        measure="cumulative",
        value=value,
        cap=1000.0,
        cap_source="catalogue",
        period_start=None,
        period_end=None,
        ts=ts,
    )


async def poll(
    store: Store,
    live: LiveMetrics,
    account: str,
    at: datetime,
    outcome: str,
    *readings: StoredReading,
) -> None:
    """Store one poll as the poller does and hand its result to `live`."""
    run = RunRecord(
        provider="cloudflare",
        account=account,
        started_at=at - timedelta(seconds=1.5),
        finished_at=at,
        outcome=outcome,
        error=None if outcome == "success" else "rejected",
        readings=len(readings),
    )
    status = await store.record_poll(run, readings)
    result = PollResult(account, Outcome(outcome), readings=readings, run=run, status=status)
    live.polled(result)


async def from_store(store: Store) -> bytes:
    """What a scrape rendered when it read the store."""
    return render(
        Snapshot(
            readings=await store.latest(accounts={"acc-a", "acc-b"}),
            statuses=await store.account_statuses(),
            accounts=FACTS,
        )
    )


async def test_polls_give_the_same_exposition_as_reading_the_store(store: Store) -> None:
    live = LiveMetrics(dict)
    live.set_accounts(FACTS)
    t = T0
    await poll(store, live, "acc-b", t, "success", reading("acc-b", "requests", 5, t))
    await poll(
        store,
        live,
        "acc-a",
        t,
        "success",
        reading("acc-a", "requests", 7, t),
        reading("acc-a", "storage", 1, t, resource="b1"),
    )
    await poll(store, live, "acc-a", t + timedelta(minutes=1), "auth")
    # a reading stamped earlier than the stored one does not move the series back
    late = t + timedelta(minutes=2)
    await poll(
        store,
        live,
        "acc-a",
        late,
        "success",
        reading("acc-a", "requests", 3, t - timedelta(minutes=5)),
        reading("acc-a", "storage", 9, late, resource="b1"),
        reading("acc-a", "storage", 4, late, resource="b0"),
    )
    expected = await from_store(store)
    assert render(Snapshot((), (), (), live=live.exposition)) == expected
    assert (
        b'quota_watch_collector_runs_total{account="acc-a",provider="cloudflare"} 3.0' in expected
    )
    assert (
        b'quota_watch_collector_failures_total{account="acc-a",provider="cloudflare"} 1.0'
        in expected
    )


async def test_loading_from_the_store_keeps_newer_polls(store: Store) -> None:
    first = LiveMetrics(dict)
    first.set_accounts(FACTS)
    await poll(store, first, "acc-a", T0, "success", reading("acc-a", "requests", 7, T0))
    await poll(store, first, "acc-b", T0, "unavailable")
    restarted = LiveMetrics(dict)
    restarted.set_accounts(FACTS)
    await restarted.load(store, {"acc-a", "acc-b"})
    assert render(Snapshot((), (), (), live=restarted.exposition)) == await from_store(store)
    # a poll the store has not answered for yet is not undone by loading
    later = T0 + timedelta(minutes=1)
    run = RunRecord("cloudflare", "acc-a", T0, later, "success", None, 1)
    newer = reading("acc-a", "requests", 8, later)
    status = AccountStatus("cloudflare", "acc-a", later, later, "success", None, 60.0, 2, 0, 0)
    restarted.polled(PollResult("acc-a", Outcome.SUCCESS, (newer,), run=run, status=status))
    await restarted.load(store, {"acc-a", "acc-b"})
    text = render(Snapshot((), (), (), live=restarted.exposition))
    assert b'quota_watch_usage{account="acc-a",limit="requests",provider="cloudflare"} 8.0' in text
    assert b'quota_watch_collector_runs_total{account="acc-a",provider="cloudflare"} 2.0' in text
