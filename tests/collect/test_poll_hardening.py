"""A poll cannot hang for ever, a rate-limit hint cannot pause an account for years, and a
store that refuses writes backs polling off and is reported."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from quota_watch.collect.poller import Poller
from quota_watch.collect.scheduler import (
    STORE_FAILURES_UNREADY,
    PollScheduler,
    backoff_delay,
    clamp_retry_after,
)
from quota_watch.config.settings import PollingSettings
from quota_watch.sdk import CollectContext, RateLimited, Reading
from quota_watch.store.facade import Store
from quota_watch.store.models import StoreError
from tests.support.fakes import FakeCollector, account, runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the shared `store` fixture opens this one."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []
    FakeCollector.active = FakeCollector.peak = 0


@pytest.mark.parametrize(
    "hint", [1e300, math.inf, -math.inf, math.nan, -5.0, 99999999999.0, 1e15, 3.2e9]
)
def test_backoff_never_raises_and_never_exceeds_the_maximum(hint: float) -> None:
    delay = backoff_delay(1, timedelta(minutes=5), timedelta(hours=1), hint, DAY)
    assert timedelta(seconds=30) <= delay <= DAY


def test_clamp_reads_absurd_hints_as_absent_and_cuts_long_ones() -> None:
    assert clamp_retry_after(None, DAY) == (None, False)
    assert clamp_retry_after(600.0, DAY) == (600.0, False)
    assert clamp_retry_after(99999999999.0, DAY) == (None, True)  # ~3,000 years: garbage
    assert clamp_retry_after(10 * 86400.0, DAY) == (86400.0, True)
    for garbage in (math.inf, math.nan, -1.0, 1e300):
        assert clamp_retry_after(garbage, DAY) == (None, True)


async def test_retry_after_pauses_at_most_the_configured_maximum(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PollingSettings(max_retry_after=timedelta(hours=2))
    scheduler = PollScheduler(Poller(store, lambda: NOW), settings)
    scheduler.start()
    try:
        scheduler.set_accounts({"a1": runtime()})
        for hint in (10 * 86400.0, 1e300, 1e300):
            FakeCollector.script = [RateLimited("slow down", retry_after=hint)]
            before = datetime.now(UTC)
            with caplog.at_level(logging.INFO, logger="quota_watch.scheduler"):
                result = await scheduler.poll_now("a1")
            assert result is not None and result.outcome == "rate_limited"
            job = scheduler.scheduler.get_job("poll:a1")
            assert job is not None and job.next_run_time is not None
            assert job.next_run_time <= before + timedelta(hours=2, seconds=5)
        warnings = [r for r in caplog.records if "rate-limit hint" in r.getMessage()]
        assert len(warnings) == 1, "an odd hint is logged once per account"
    finally:
        await scheduler.drain(1.0)


class _Hanging(FakeCollector):
    async def collect(self, ctx: CollectContext) -> list[Reading]:
        await asyncio.sleep(3600)
        return []


async def test_a_poll_past_its_deadline_fails_and_frees_the_slot(store: Store) -> None:
    settings = PollingSettings(max_concurrency_per_provider=1, poll_deadline=timedelta(seconds=1))
    scheduler = PollScheduler(Poller(store, lambda: NOW), settings)
    hung, healthy = runtime(account("hung")), runtime(account("ok"))
    hung.collector = _Hanging(hung.config.options, httpx.AsyncClient())
    scheduler.runtimes.update({"hung": hung, "ok": healthy})  # no jobs: poll by hand
    first, second = await asyncio.wait_for(
        asyncio.gather(scheduler.poll_now("hung"), scheduler.poll_now("ok")), timeout=60
    )
    assert first is not None and first.outcome == "unavailable"
    assert first.error is not None and "deadline of 1s" in first.error
    assert second is not None and second.outcome == "success"
    statuses = {s.account: s for s in await store.account_statuses()}
    assert statuses["hung"].consecutive_failures == 1


async def test_a_refusing_store_backs_off_and_turns_unhealthy(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("database or disk is full")

    monkeypatch.setattr(store, "record_poll", refuse)
    evaluated: list[str] = []

    async def on_result(rt: object, result: object) -> None:
        evaluated.append("x")

    scheduler = PollScheduler(Poller(store, lambda: NOW), PollingSettings(), on_result)
    scheduler.start()
    try:
        scheduler.set_accounts({"a1": runtime()})
        # Its first scheduled poll is spread over the first seconds: only poll_now polls here
        # (a scheduled one at the same time counted a failure more on a loaded machine).
        job = scheduler.scheduler.get_job("poll:a1")
        assert job is not None
        job.modify(next_run_time=datetime.now(UTC) + timedelta(hours=1))
        for n in range(1, STORE_FAILURES_UNREADY + 1):
            before = datetime.now(UTC)
            result = await scheduler.poll_now("a1")
            assert result is not None and result.store_error is not None
            assert "disk is full" in result.store_error
            job = scheduler.scheduler.get_job("poll:a1")
            assert job is not None and job.next_run_time is not None
            assert job.next_run_time >= before + timedelta(seconds=29)  # backed off
            assert scheduler.failures["a1"] == n
        assert evaluated == []  # nothing stored: nothing to evaluate
        reason = scheduler.store_unhealthy()
        assert reason is not None and "refused the last 3 writes" in reason

        monkeypatch.undo()
        result = await scheduler.poll_now("a1")
        assert result is not None and result.store_error is None
        assert scheduler.store_unhealthy() is None
    finally:
        await scheduler.drain(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("header", ["1e300", "99999999999", "inf", "864000"])
async def test_a_real_retry_after_header_pauses_at_most_the_maximum(
    store: Store, header: str
) -> None:
    from quota_watch.collect.runtime import build_runtimes, http_client
    from quota_watch.config.load import validate_config
    from tests.support.faultserver import FaultServer

    with FaultServer() as faults:
        faults.retry_after = header
        limit = {"title": "Used", "unit": "count", "measure": "level", "period": "none"}
        limit |= {"scope": "account", "value": "used"}
        document = {
            "polling": {"max_retry_after": "1h"},
            "accounts": [
                {
                    "name": "limited",
                    "collector": "http_json",
                    "options": {"url": faults.url("/retry_after"), "limits": {"used": limit}},
                }
            ],
        }
        config = validate_config(document, None, {})
        client = http_client(config)
        scheduler = PollScheduler(Poller(store, lambda: NOW), config.settings.polling)
        scheduler.start()
        try:
            scheduler.set_accounts(build_runtimes(config, client))
            before = datetime.now(UTC)
            result = await scheduler.poll_now("limited")
            assert result is not None and result.outcome == "rate_limited"
            job = scheduler.scheduler.get_job("poll:limited")
            assert job is not None and job.next_run_time is not None
            assert job.next_run_time <= before + timedelta(hours=1, seconds=5)
        finally:
            await scheduler.drain(1.0)
            await client.aclose()
