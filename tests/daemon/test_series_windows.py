"""The rules' in-memory series windows give the views a read back from the store would give."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from quota_watch.status import window
from quota_watch.status.series import recent_views
from quota_watch.status.window import SeriesWindows
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading
from tests.support.fakes import account, runtime

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def requests(value: float, ts: datetime) -> StoredReading:
    day = ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return StoredReading(
        provider="fake",
        account="a1",
        limit="requests",
        resource=None,
        unit="count",
        measure="cumulative",
        value=value,
        cap=100_000.0,
        cap_source="catalogue",
        period_start=day,
        period_end=day + timedelta(days=1),
        ts=ts,
    )


def storage(value: float, ts: datetime, resource: str) -> StoredReading:
    return StoredReading(
        provider="fake",
        account="a1",
        limit="storage",
        resource=resource,
        unit="bytes",
        measure="level",
        value=value,
        cap=None,
        cap_source="none",
        period_start=None,
        period_end=None,
        ts=ts,
    )


def run(at: datetime, readings: int) -> RunRecord:
    return RunRecord("fake", "a1", at, at, "success", None, readings)


def counted_sample_reads(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[datetime, datetime]]:
    """The (since, until) of every samples_of_accounts read of `store` from here on."""
    reads: list[tuple[datetime, datetime]] = []
    read = store.samples_of_accounts

    async def counted(accounts: list[str], since: datetime, until: datetime) -> object:
        reads.append((since, until))
        return await read(accounts, since, until)

    monkeypatch.setattr(store, "samples_of_accounts", counted)
    return reads


async def test_windows_match_the_store_read_back_poll_after_poll(store: Store) -> None:
    rt = runtime()
    windows = SeriesWindows()
    lookback = timedelta(hours=1)  # shorter than the run: old samples must leave the window
    for step in range(14):
        now = START + timedelta(minutes=10 * step)
        readings = [
            requests(1_000.0 * step, now),
            storage(5e6 + step, now, "db-1"),
            # a second series of the limit appears later
            *([storage(7e6 - step, now, "db-2")] if step >= 3 else []),
        ]
        if step == 5:  # a late sample for an earlier moment, stamped in another zone
            readings.append(requests(4_321.5, (now - timedelta(minutes=25)).astimezone(PLUS_TWO)))
        if step == 8:  # the same moment again: the later value wins
            readings.append(requests(9_999.0, now))
        await store.record_poll(run(now, len(readings)), readings)
        expected = await recent_views(store, rt, readings, now, lookback)
        got = await windows.views(store, rt, readings, now, lookback)
        assert got == expected, f"poll {step}"
        assert all(view.points for view in got)


async def test_a_longer_lookback_reads_the_store_again(store: Store) -> None:
    rt = runtime()
    windows = SeriesWindows()
    for step in range(6):
        now = START + timedelta(minutes=10 * step)
        readings = [storage(float(step), now, "db-1")]
        await store.record_poll(run(now, 1), readings)
        await windows.views(store, rt, readings, now, timedelta(minutes=15))
    longer = timedelta(hours=2)
    got = await windows.views(store, rt, readings, now, longer)
    assert got == await recent_views(store, rt, readings, now, longer)
    assert len(got[0].points) == 6


async def test_the_windows_hold_no_more_than_the_lookback_however_long_the_run(
    store: Store,
) -> None:
    rt = runtime()
    windows = SeriesWindows()
    lookback = timedelta(hours=1)  # 7 samples of a 10-minute series (both ends)
    for step in range(40):
        now = START + timedelta(minutes=10 * step)
        readings = [requests(10.0 * step, now), storage(5e6, now, "db-1")]
        await store.record_poll(run(now, len(readings)), readings)
        await windows.views(store, rt, readings, now, lookback)
        series, samples = windows.held()
        assert series == 2 and samples <= 2 * 7, f"poll {step}: {samples} samples held"
    assert windows.held() == (2, 2 * 7)


async def test_a_long_lookback_is_read_in_slices_and_misses_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5 samples a slice: the 2 h lookback of a 10-minute account is read in three slices,
    # whose bounds fall exactly on samples (a sample on a bound is read once, by the later one).
    monkeypatch.setattr(window, "_LOAD_SLICE_SAMPLES", 5)
    rt = runtime(account(interval=timedelta(minutes=10)))
    for step in range(15):
        now = START + timedelta(minutes=10 * step)
        readings = [requests(1_000.0 * step, now), storage(5e6 + step, now, "db-1")]
        await store.record_poll(run(now, len(readings)), readings)
    reads = counted_sample_reads(store, monkeypatch)
    lookback = timedelta(hours=2)
    got = await SeriesWindows().views(store, rt, readings, now, lookback)
    assert len(reads) == 3
    assert all(a[1] == b[0] for a, b in itertools.pairwise(reads))  # contiguous slices
    assert got == await recent_views(store, rt, readings, now, lookback)
    assert [len(view.points) for view in got] == [13, 13]  # the whole lookback, both ends


async def test_only_the_span_the_store_holds_is_read(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 3-day lookback of a 10-minute account at 5 samples a slice would be 24 reads (the cap);
    # the store holds less, so fewer are made, and none for an account with nothing stored.
    monkeypatch.setattr(window, "_LOAD_SLICE_SAMPLES", 5)
    rt = runtime(account(interval=timedelta(minutes=10)))
    lookback = timedelta(days=3)
    reads = counted_sample_reads(store, monkeypatch)
    first = [requests(1.0, START)]  # not stored: the account has no samples yet
    got = await SeriesWindows().views(store, rt, first, START, lookback)
    assert reads == []
    assert got == await recent_views(store, rt, first, START, lookback)
    assert len(got[0].points) == 0

    for step in range(15):  # 2 h 20 min of samples: 14 intervals, three slices of 5
        now = START + timedelta(minutes=10 * step)
        readings = [requests(1_000.0 * step, now), storage(5e6 + step, now, "db-1")]
        await store.record_poll(run(now, len(readings)), readings)
    reads.clear()
    got = await SeriesWindows().views(store, rt, readings, now, lookback)
    assert len(reads) == 3 and reads[0][0] == START  # from the oldest sample, not now - 3 d
    assert all(a[1] == b[0] for a, b in itertools.pairwise(reads))
    assert got == await recent_views(store, rt, readings, now, lookback)
    assert [len(view.points) for view in got] == [15, 15]

    ahead = [storage(9e6, now + timedelta(hours=1), "db-2")]  # stamped ahead of the poll
    await store.record_poll(run(now, 1), ahead)
    reads.clear()
    later = await SeriesWindows().views(store, rt, ahead, now, timedelta(minutes=5))
    assert len(reads) == 1  # the only sample in the lookback is ahead of now: one read
    assert later == await recent_views(store, rt, ahead, now, timedelta(minutes=5))
