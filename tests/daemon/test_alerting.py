"""The alerting glue on a real store: polls in, alert states and outbox messages out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quota_watch.collect.poller import Poller
from quota_watch.config.load import validate_config
from quota_watch.config.settings import Config
from quota_watch.daemon.alerting import Alerting
from quota_watch.engine.rulepack import RulePack
from quota_watch.model import Silence
from quota_watch.sdk import Reading
from quota_watch.status.rows import gather_rows
from quota_watch.store.facade import Store
from tests.support.fakes import FakeCollector, account, runtime

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def config(store_url: str, notifiers: bool = True) -> Config:
    data: dict[str, object] = {"store": {"url": store_url}}
    if notifiers:
        data["notifiers"] = [
            {"name": "ops", "url": "json://127.0.0.1:9/hook", "severities": ["critical"]}
        ]
    return validate_config(data, None, {})


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the shared `store` fixture opens this one."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []


async def poll(alerting: Alerting, poller: Poller, clock: Clock, value: float) -> None:
    rt = runtime(account())
    FakeCollector.script = [[Reading("requests", value)]]
    result = await poller.poll(rt)
    await alerting.after_poll(rt, result)
    clock.now += timedelta(minutes=10)


async def test_one_message_per_incident_across_restarts(store: Store) -> None:
    clock = Clock()
    cfg = config(store.display_url)
    poller = Poller(store, clock)
    alerting = Alerting(store, cfg, clock)
    await poll(alerting, poller, clock, 150_000)  # 150% of the 100k cap: critical at once
    messages = await store.pending_messages("ops")
    assert [m.kind for m in messages] == ["firing"]
    assert messages[0].title.startswith("[CRITICAL]")
    firing = await alerting.firing()
    assert [(a.alertname, a.severity) for a in firing] == [("QuotaFullyUsed", "critical")]

    restarted = Alerting(store, cfg, clock)  # a new process: state comes from the store
    await poll(restarted, poller, clock, 160_000)
    assert [m.kind for m in await store.pending_messages("ops")] == ["firing"]

    # back under the cap minus hysteresis: a cumulative value that fell counts once the next
    # poll confirms it, and a firing alert resolves after for_runs (2) clear polls
    for _ in range(2):
        await poll(restarted, poller, clock, 1_000)
        assert [m.kind for m in await store.pending_messages("ops")] == ["firing"]
    await poll(restarted, poller, clock, 1_000)
    kinds = [m.kind for m in await store.pending_messages("ops")]
    assert kinds == ["firing", "resolved"]
    assert await restarted.firing() == []


async def test_silenced_alert_fires_but_sends_nothing(store: Store) -> None:
    clock = Clock()
    cfg = config(store.display_url)
    await store.add_silence(
        Silence(
            id=None,
            matchers={"limit": "requests"},
            starts_at=START,
            ends_at=START + timedelta(hours=1),
            reason="migration",
            created_by="test",
            created_at=START,
        )
    )
    poller = Poller(store, clock)
    alerting = Alerting(store, cfg, clock)
    await poll(alerting, poller, clock, 150_000)
    assert await store.pending_messages("ops") == []
    assert [a.severity for a in await alerting.firing()] == ["critical"]  # still visible


async def test_report_status_and_forecast_come_from_the_engine(store: Store) -> None:
    clock = Clock()
    cfg = config(store.display_url, notifiers=False)
    poller = Poller(store, clock)
    alerting = Alerting(store, cfg, clock)
    # A steady climb in a daily period: 2.5k per 10 minutes from 17:00 to 21:00. On a first
    # day (no earlier day to compare with) the projection is trusted once its window reaches
    # back as far as the day has left, and needs min_span (3 h) of history.
    clock.now = START.replace(hour=17)
    for step in range(25):
        await poll(alerting, poller, clock, 2_500 * (step + 1))
    forecast = alerting.forecasts[("a1", "requests", None)]
    assert forecast.forecast_value is not None and forecast.forecast_value > 100_000
    assert forecast.exhausts_at is not None

    rows = await gather_rows(store, {"a1": runtime(account())}, RulePack(), (), clock.now)
    (row,) = rows
    # 62.5% of the cap, but the forecast alert fires: the report shows the engine's verdict
    assert [a.alertname for a in await alerting.firing()] == ["QuotaPredictedFull"]
    assert row.status == "warning"
    assert row.utilization == pytest.approx(0.625)
    assert row.forecast_points == 25 and row.forecast_note is None
    assert row.forecast_value == pytest.approx(forecast.forecast_value, rel=0.05)
    assert row.exhausts_at is not None
    assert row.resets_at == datetime(2026, 11, 23, tzinfo=UTC)


async def test_after_poll_reads_samples_once_then_keeps_them_in_memory(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    alerting = Alerting(store, config(store.display_url, notifiers=False), clock)
    poller = Poller(store, clock)
    rt = runtime(account())
    calls: list[int] = []  # the poll each read came at
    bulk = store.samples_of_accounts
    step = 0

    async def counted(*args: object) -> object:
        calls.append(step)
        return await bulk(*args)  # type: ignore[arg-type]

    async def per_series(*args: object) -> object:
        raise AssertionError("after_poll read one series at a time")

    monkeypatch.setattr(store, "samples_of_accounts", counted)
    monkeypatch.setattr(store, "samples", per_series)
    for step in range(3):
        FakeCollector.script = [
            [Reading("requests", 10_000.0 * (step + 1))]
            + [Reading("storage", 1e6 * (step + 1), resource=f"db-{i}") for i in range(4)]
        ]
        await alerting.after_poll(rt, await poller.poll(rt))
        clock.now += timedelta(minutes=10)
    # reads at the account's first evaluation only, for all its series, and only the span
    # the store holds (its first poll's samples: one read, not a read per slice of the
    # 3-day lookback's ~200 samples a series); later polls append
    assert calls == [0]
    forecast = alerting.forecasts[("a1", "storage", "db-2")]
    assert forecast.points_used == 3  # every series still got its own samples


async def test_samples_another_process_recorded_reach_the_rules_at_the_next_poll(
    store: Store,
) -> None:
    # `quota-watch set` or `collect` in another process records a poll of the account between
    # two of the daemon's: its sample is not in the daemon's window, which is read again.
    clock = Clock()
    alerting = Alerting(store, config(store.display_url, notifiers=False), clock)
    daemon, other = Poller(store, clock), Poller(store, clock)
    rt = runtime(account())
    for step in range(4):
        FakeCollector.script = [[Reading("storage", 1e6 * (step + 1), resource="db-1")]]
        if step == 3:  # the other process, five minutes before the daemon's fourth poll
            clock.now -= timedelta(minutes=5)
            await other.poll(runtime(account()))
            clock.now += timedelta(minutes=5)
            FakeCollector.script = [[Reading("storage", 4e6, resource="db-1")]]
        await alerting.after_poll(rt, await daemon.poll(rt))
        clock.now += timedelta(minutes=10)
    # three of the daemon's polls, the other process's, and the daemon's fourth
    assert alerting.forecasts[("a1", "storage", "db-1")].points_used == 5
    assert alerting.windows.held() == (1, 5)


async def test_reconfigure_takes_the_new_rules_at_the_next_poll(store: Store) -> None:
    clock = Clock()
    quiet = validate_config(
        {"store": {"url": store.display_url}, "rules": [{"match": {}, "threshold": False}]},
        None,
        {},
    )
    poller = Poller(store, clock)
    alerting = Alerting(store, quiet, clock)
    await poll(alerting, poller, clock, 150_000)
    await poll(alerting, poller, clock, 150_000)  # the rules resolved once stay in use
    assert await alerting.firing() == []

    alerting.reconfigure(config(store.display_url))  # no override: the threshold rule runs
    assert alerting.rules.fits(alerting.pack, alerting.overrides)
    await poll(alerting, poller, clock, 160_000)
    assert [a.alertname for a in await alerting.firing()] == ["QuotaFullyUsed"]

    alerting.reconfigure(quiet)
    await poll(alerting, poller, clock, 170_000)
    assert await alerting.firing() == []
