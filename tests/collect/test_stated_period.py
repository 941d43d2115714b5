"""A reading's stated period (start, end, zone) and provider forecast: resolved by the poller,
stored and read back on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from quota_watch.collect.catalog import parse_catalogue
from quota_watch.collect.periods import current_period, stated_period
from quota_watch.collect.poller import Poller
from quota_watch.collect.registry import CollectorInfo
from quota_watch.collect.runtime import AccountRuntime, build_runtime
from quota_watch.engine.forecast import forecast_signal
from quota_watch.engine.rulepack import RulePack, effective_rules
from quota_watch.sdk import Period, PeriodKind, PeriodSpec, Reading
from quota_watch.status.series import recent_views
from quota_watch.store.facade import Store
from tests.support.fakes import FakeCollector, account

PACIFIC = "America/Los_Angeles"
CYCLE = PeriodSpec(kind=PeriodKind.BILLING_CYCLE, anchor_day=1, tz=PACIFIC)
NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)
# Netlify's 17th-to-17th cycle, 00:00 Pacific (PST: 08:00 UTC).
START = datetime(2026, 11, 17, 8, tzinfo=UTC)
END = datetime(2026, 12, 17, 8, tzinfo=UTC)

CATALOGUE = parse_catalogue(
    f"""
[provider]
name = "fake"
title = "Fake provider with a Pacific billing cycle"
source = "https://example.com/limits"
verified = 2026-11-22
[provider.policy]
multi_account = "allowed"
commercial_use = "allowed"
[limits.bandwidth]
title = "Bandwidth"
unit = "bytes"
measure = "cumulative"
period = {{ kind = "billing_cycle", anchor_day = 1, tz = "{PACIFIC}" }}
cap = "100GiB"
[limits.storage]
title = "Storage"
unit = "bytes"
measure = "level"
"""
)


def cycle_runtime() -> AccountRuntime:
    info = CollectorInfo(name="fake", cls=FakeCollector, catalogue=CATALOGUE, folder=Path())
    return build_runtime(account(), info, httpx.AsyncClient())


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []


# --- stated_period ----------------------------------------------------------------------------


def test_nothing_stated_is_the_computed_period() -> None:
    computed = current_period(CYCLE, NOW)
    assert stated_period(CYCLE, computed, None, None) == computed
    assert computed == Period(
        datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC)
    )


def test_a_stated_end_is_taken_as_it_is() -> None:
    computed = current_period(CYCLE, NOW)
    assert stated_period(CYCLE, computed, START, END) == Period(START, END)
    # An end alone keeps the computed start when that lies before it.
    assert stated_period(CYCLE, computed, None, END) == Period(computed.start, END)
    assert stated_period(CYCLE, computed, None, computed.start) == Period(None, computed.start)


def test_a_stated_start_alone_gives_the_cycle_anchored_on_its_local_day() -> None:
    computed = current_period(CYCLE, NOW)
    assert stated_period(CYCLE, computed, START, None) == Period(START, END)
    # Across the DST change: 17 Feb 2024 00:00 PST to 17 Mar 2024 00:00 PDT.
    feb = datetime(2024, 2, 17, 8, tzinfo=UTC)
    at = datetime(2024, 3, 3, 10, tzinfo=UTC)
    assert stated_period(CYCLE, current_period(CYCLE, at), feb, None, PACIFIC) == Period(
        feb, datetime(2024, 3, 17, 7, tzinfo=UTC)
    )


def test_a_start_that_agrees_or_a_daily_limit_keeps_the_computed_end() -> None:
    computed = current_period(CYCLE, NOW)
    assert stated_period(CYCLE, computed, computed.start, None) == computed
    daily = PeriodSpec(kind=PeriodKind.DAILY)
    today = current_period(daily, NOW)
    later = datetime(2026, 11, 22, 3, tzinfo=UTC)
    assert stated_period(daily, today, later, None) == Period(later, today.end)


# --- the poller and the store -----------------------------------------------------------------


async def test_the_stated_cycle_zone_and_forecast_are_stored(store: Store) -> None:
    FakeCollector.script = [
        [
            Reading(
                "bandwidth",
                5e9,
                period_start=START,
                period_end=END,
                period_zone=PACIFIC,
                forecast=9e9,
            ),
            Reading("storage", 1.0),
        ]
    ]
    result = await Poller(store, lambda: NOW).poll(cycle_runtime())
    assert result.outcome == "success"
    by_limit = {r.limit: r for r in await store.latest()}
    bandwidth, storage = by_limit["bandwidth"], by_limit["storage"]
    assert (bandwidth.period_start, bandwidth.period_end) == (START, END)
    assert (bandwidth.period_zone, bandwidth.forecast) == (PACIFIC, 9e9)
    assert (storage.period_start, storage.period_end, storage.period_zone) == (None, None, None)
    assert storage.forecast is None
    assert tuple(sorted(result.readings, key=lambda r: r.limit)) == tuple(
        sorted(await store.latest(), key=lambda r: r.limit)
    )


async def test_a_stated_start_alone_no_longer_ends_at_the_computed_period(store: Store) -> None:
    # Before Reading.period_end the series ran from the 17th to the computed end, the 1st.
    FakeCollector.script = [[Reading("bandwidth", 5e9, period_start=START)]]
    await Poller(store, lambda: NOW).poll(cycle_runtime())
    [stored] = await store.latest()
    assert (stored.period_start, stored.period_end, stored.period_zone) == (START, END, PACIFIC)
    assert stored.forecast is None


async def test_a_later_poll_replaces_zone_and_forecast(store: Store) -> None:
    FakeCollector.script = [
        [Reading("bandwidth", 5e9, period_start=START, period_end=END, forecast=9e9)],
        [Reading("bandwidth", 6e9)],
    ]
    poller = Poller(store, lambda: NOW)
    await poller.poll(cycle_runtime())
    poller.clock = lambda: NOW.replace(hour=11)
    await poller.poll(cycle_runtime())
    [stored] = await store.latest()
    assert stored.value == 6e9 and stored.forecast is None
    assert stored.period_end == datetime(2026, 12, 1, 8, tzinfo=UTC)


async def test_the_forecast_projects_to_the_stated_end(store: Store) -> None:
    hours = range(6)
    FakeCollector.script = [
        [Reading("bandwidth", 1e9 * (h + 1), period_start=START, period_end=END)] for h in hours
    ]
    rt = cycle_runtime()
    moments = [NOW + timedelta(hours=h) for h in hours]
    clock = [NOW]
    poller = Poller(store, lambda: clock[0])
    for moment in moments:
        clock[0] = moment
        await poller.poll(rt)
    latest = await store.latest()
    [view] = await recent_views(store, rt, latest, moments[-1], timedelta(days=7))
    assert view.period == Period(START, END)
    rules = effective_rules(
        RulePack(),
        [],
        provider="fake",
        account="a1",
        limit="bandwidth",
        group=None,
        unit="bytes",
        cap=view.cap,
    )
    signal = forecast_signal(view, rules)
    left = (END - moments[-1]).total_seconds() / 3600
    assert signal.forecast_value == pytest.approx(6e9 + 1e9 * left)
