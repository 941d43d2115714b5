"""The poller and scheduler: cap precedence, outcomes, state, secrets, backoff, pause, reload."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from quota_watch.collect.poller import MAX_READINGS_PER_POLL, Poller
from quota_watch.collect.runtime import scrub, secret_values
from quota_watch.collect.scheduler import PollScheduler, backoff_delay
from quota_watch.config.settings import PollingSettings
from quota_watch.sdk import (
    AuthError,
    NoData,
    ProviderUnavailable,
    RateLimited,
    Reading,
)
from quota_watch.store.facade import Store
from tests.support.fakes import FakeCollector, FakeOptions, account, runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the shared `store` fixture opens this one."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []
    FakeCollector.active = FakeCollector.peak = 0
    FakeCollector.delay = 0.01


async def test_cap_precedence_api_override_catalogue(store: Store) -> None:
    FakeCollector.script = [
        [
            Reading("requests", 10.0),
            Reading("storage", 5.0, resource="db1", cap=50.0),
            Reading("storage", 7.0, resource="db2"),
        ]
    ]
    rt = runtime(account(cap_overrides={"storage": 70.0}))
    result = await Poller(store, lambda: NOW).poll(rt)
    assert result.outcome == "success"
    by_key = {(r.limit, r.resource): r for r in result.readings}
    assert (by_key["requests", None].cap, by_key["requests", None].cap_source) == (
        100_000,
        "catalogue",
    )
    assert (by_key["storage", "db1"].cap, by_key["storage", "db1"].cap_source) == (50.0, "api")
    assert (by_key["storage", "db2"].cap, by_key["storage", "db2"].cap_source) == (
        70.0,
        "override",
    )
    daily = by_key["requests", None]
    assert daily.period_start == datetime(2026, 11, 22, tzinfo=UTC)
    assert daily.period_end == datetime(2026, 11, 23, tzinfo=UTC)
    latest = await store.latest()
    assert len(latest) == 3


async def test_undeclared_limit_is_a_loud_failure(store: Store) -> None:
    FakeCollector.script = [[Reading("made_up", 1.0)]]
    result = await Poller(store, lambda: NOW).poll(runtime())
    assert result.outcome == "unexpected"
    assert "made_up" in (result.error or "")
    assert await store.latest() == []
    (status,) = await store.account_statuses()
    assert status.failures_total == 1


async def test_a_runaway_number_of_readings_is_a_loud_failure(store: Store) -> None:
    FakeCollector.script = [
        [Reading("requests", 1.0, resource=f"r{i}") for i in range(MAX_READINGS_PER_POLL + 1)]
    ]
    result = await Poller(store, lambda: NOW).poll(runtime())
    assert result.outcome == "unexpected"
    assert f"more than {MAX_READINGS_PER_POLL}" in (result.error or "")
    assert await store.latest() == []


async def test_state_kept_on_success_and_no_data_not_on_failure(store: Store) -> None:
    rt = runtime()
    poller = Poller(store, lambda: NOW)
    FakeCollector.script = [NoData("baseline recorded"), ProviderUnavailable("503"), []]
    assert (await poller.poll(rt)).outcome == "no_data"
    assert await store.load_state("a1") == {"polls": 1}
    assert (await poller.poll(rt)).outcome == "unavailable"
    assert await store.load_state("a1") == {"polls": 1}
    assert (await poller.poll(rt)).outcome == "success"
    assert await store.load_state("a1") == {"polls": 2}


async def test_secrets_scrubbed_from_errors(store: Store) -> None:
    FakeCollector.script = [RuntimeError("boom with tok-very-secret inside")]
    result = await Poller(store, lambda: NOW).poll(runtime())
    assert result.outcome == "error"
    assert "tok-very-secret" not in (result.error or "")
    (status,) = await store.account_statuses()
    assert "tok-very-secret" not in (status.last_error or "")
    assert secret_values(FakeOptions()) == ("tok-very-secret",)
    assert scrub("a tok-very-secret b", ["tok-very-secret"]) == "a *** b"


def test_backoff_doubles_caps_and_honours_retry_after() -> None:
    interval, cap = timedelta(minutes=10), timedelta(hours=1)
    delays = [backoff_delay(n, interval, cap).total_seconds() for n in range(1, 9)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_delay(1, interval, cap, retry_after=900) == timedelta(seconds=900)
    assert backoff_delay(50, timedelta(hours=2), cap) == timedelta(hours=2)
    assert backoff_delay(1, timedelta(seconds=5), cap) == timedelta(seconds=5)


async def test_scheduler_backoff_pause_and_reload(store: Store) -> None:
    scheduler = PollScheduler(Poller(store, lambda: NOW), PollingSettings())
    scheduler.start()
    try:
        scheduler.set_accounts({"a1": runtime()})
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None
        FakeCollector.script = [RateLimited("slow down", retry_after=600)]
        before = datetime.now(UTC)
        result = await scheduler.poll_now("a1")
        assert result is not None and result.outcome == "rate_limited"
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None
        assert job.next_run_time >= before + timedelta(seconds=600)
        assert scheduler.failures["a1"] == 1

        FakeCollector.script = [AuthError("token rejected")]
        before = datetime.now(UTC)
        await scheduler.poll_now("a1")
        assert "a1" in scheduler.paused
        job = scheduler.scheduler.get_job("poll:a1")
        # paused: re-tried on the slow auth_retry schedule, not every interval
        assert job is not None and job.next_run_time >= before + timedelta(hours=1)

        # the same config again (SIGHUP): re-tried at once
        before = datetime.now(UTC)
        scheduler.set_accounts({"a1": runtime()})
        assert "a1" not in scheduler.paused
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None and job.next_run_time <= before + timedelta(seconds=5)

        # rejected again, then a changed config: polling resumes
        FakeCollector.script = [AuthError("token rejected")]
        await scheduler.poll_now("a1")
        assert "a1" in scheduler.paused
        fixed = account(options=FakeOptions(token=SecretStr("new-token")))
        scheduler.set_accounts({"a1": runtime(fixed)})
        assert "a1" not in scheduler.paused
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None and job.next_run_time is not None

        # the slow re-try succeeds: no longer paused
        FakeCollector.script = [AuthError("token rejected")]
        await scheduler.poll_now("a1")
        assert "a1" in scheduler.paused
        FakeCollector.script = []
        result = await scheduler.poll_now("a1")
        assert result is not None and result.outcome == "success"
        assert "a1" not in scheduler.paused

        # `account resume`: an unknown account is refused, a paused one polled now
        assert not scheduler.resume("nope")
        FakeCollector.script = [AuthError("token rejected")]
        await scheduler.poll_now("a1")
        before = datetime.now(UTC)
        assert scheduler.resume("a1")
        assert "a1" not in scheduler.paused
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None and job.next_run_time <= before + timedelta(seconds=5)

        scheduler.set_accounts({"a2": runtime(account("a2"))})
        assert scheduler.scheduler.get_job("poll:a1") is None
        assert scheduler.scheduler.get_job("poll:a2") is not None
    finally:
        await scheduler.drain(1.0)


async def test_per_provider_concurrency_cap(store: Store) -> None:
    settings = PollingSettings(max_concurrency_per_provider=3)
    scheduler = PollScheduler(Poller(store, lambda: NOW), settings)
    runtimes = {f"a{i}": runtime(account(f"a{i}")) for i in range(12)}
    scheduler.runtimes.update(runtimes)  # no jobs: poll by hand
    # Polls long enough to overlap even on a loaded machine; the cap is the upper bound.
    FakeCollector.delay = 0.3
    results = await asyncio.gather(*(scheduler.poll_now(name) for name in runtimes))
    assert all(r is not None and r.outcome == "success" for r in results)
    assert 1 < FakeCollector.peak <= 3


async def test_one_info_line_per_poll_cycle(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = PollScheduler(Poller(store, lambda: NOW), PollingSettings())
    caplog.set_level("INFO", logger="quota_watch.scheduler")
    daily = account("slow", interval=timedelta(days=1))
    # No jobs (polled by hand): a scheduled poll firing on a loaded machine would add to
    # the cycle behind the test's back.
    scheduler.runtimes.update(
        {"a1": runtime(), "a2": runtime(account("a2")), "slow": runtime(daily)}
    )
    assert scheduler.cycle_accounts() == {"a1", "a2"}

    def cycle_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("polled ")]

    FakeCollector.script = [ProviderUnavailable("503")]
    await scheduler.poll_now("a1")
    assert cycle_lines() == []
    await scheduler.poll_now("slow")
    assert cycle_lines() == []
    await scheduler.poll_now("a2")
    (line,) = cycle_lines()
    assert line.getMessage().startswith("polled 3 accounts, 1 failed, next in ")
    assert (line.polled, line.failed, line.failed_accounts) == (3, 1, "a1")  # type: ignore[attr-defined]
    await scheduler.poll_now("a1")
    await scheduler.poll_now("a2")
    assert cycle_lines()[-1].getMessage().startswith("polled 2 accounts, 0 failed")


async def test_the_cycle_follows_account_and_pause_changes(store: Store) -> None:
    scheduler = PollScheduler(Poller(store, lambda: NOW), PollingSettings())
    scheduler.set_accounts({"a1": runtime(), "a2": runtime(account("a2"))})
    assert scheduler.cycle_accounts() == {"a1", "a2"}
    # Same number of accounts, a2 now polled daily: it no longer holds the cycle line back.
    daily = account("a2", interval=timedelta(days=1))
    scheduler.set_accounts({"a1": runtime(), "a2": runtime(daily)})
    assert scheduler.cycle_accounts() == {"a1"}
    scheduler.paused.add("a1")
    assert scheduler.cycle_accounts() == {"a2"}
    scheduler.paused.discard("a1")
    assert scheduler.cycle_accounts() == {"a1"}
