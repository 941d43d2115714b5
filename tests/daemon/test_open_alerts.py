"""The rules after a poll read the account's status and alert states from memory, and read
them again whenever something other than this daemon's own writes may have changed them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quota_watch.collect.poller import Poller
from quota_watch.config.load import validate_config
from quota_watch.daemon.alerting import Alerting
from quota_watch.model import AlertState
from quota_watch.sdk import Reading
from quota_watch.store.facade import Store
from quota_watch.store.fence import Fence, fenced
from quota_watch.store.models import StoreError
from tests.support.fakes import FakeCollector, account, runtime

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
OVER, UNDER = 150_000.0, 1_000.0  # against the fake's 100k cap: critical at once / clear


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Reads:
    """Counts the store reads of alert states and account status."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.alerts = 0
        self.status = 0
        load, both = store.load_alerts, store.status_and_alerts

        async def load_alerts(**kwargs: Any) -> list[AlertState]:
            self.alerts += 1
            return await load(**kwargs)

        async def status_and_alerts(account: str) -> Any:
            self.status += 1
            return await both(account)

        monkeypatch.setattr(store, "load_alerts", load_alerts)
        monkeypatch.setattr(store, "status_and_alerts", status_and_alerts)


@pytest.fixture
def store_url(tmp_path: Any) -> str:
    """SQLite: the cluster cases fence by hand (only PostgreSQL checks a fence)."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []


def make(store: Store, clock: Clock) -> tuple[Poller, Alerting]:
    cfg = validate_config(
        {
            "store": {"url": store.display_url},
            "notifiers": [{"name": "ops", "url": "json://127.0.0.1:9/hook"}],
        },
        None,
        {},
    )
    return Poller(store, clock), Alerting(store, cfg, clock)


async def poll(poller: Poller, alerting: Alerting, clock: Clock, value: float) -> None:
    rt = runtime(account())
    FakeCollector.script = [[Reading("requests", value)]]
    await alerting.after_poll(rt, await poller.poll(rt))
    clock.now += timedelta(minutes=10)


async def kinds(store: Store) -> list[str]:
    return [m.kind for m in await store.pending_messages("ops")]


async def test_polls_read_the_alerts_once_and_keep_the_lifecycle(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    poller, alerting = make(store, clock)
    reads = Reads(store, monkeypatch)
    for value in (OVER, OVER, UNDER, UNDER, UNDER, OVER):
        await poll(poller, alerting, clock, value)
    # fired, held, resolved after for_runs clear polls, fired again: as read from the store
    assert await kinds(store) == ["firing", "resolved", "firing"]
    assert (reads.alerts, reads.status) == (1, 0)  # the first evaluation only
    (stored,) = await store.load_alerts(account="a1")
    assert alerting.open_alerts.get("a1") == [stored]


async def test_a_health_evaluation_reads_the_store_and_refreshes_memory(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    poller, alerting = make(store, clock)
    await poll(poller, alerting, clock, OVER)
    alerting.open_alerts.forget(["a1"])
    reads = Reads(store, monkeypatch)
    await alerting.evaluate_health(runtime(account()))  # no poll: status from the store
    assert reads.status == 1
    stored = await store.load_alerts(account="a1")
    assert len(stored) == 1 and alerting.open_alerts.get("a1") == stored


async def test_a_retired_account_that_comes_back_is_read_again(store: Store) -> None:
    clock = Clock()
    poller, alerting = make(store, clock)
    await poll(poller, alerting, clock, OVER)
    await alerting.retire({"a1"})  # removed from the config: its alert resolves
    assert alerting.open_alerts.get("a1") is None
    await poll(poller, alerting, clock, OVER)  # added back, still over: a new incident
    assert await kinds(store) == ["firing", "resolved", "firing"]


async def test_a_removed_account_is_forgotten(store: Store) -> None:
    clock = Clock()
    poller, alerting = make(store, clock)
    await poll(poller, alerting, clock, OVER)
    alerting.forget({"other"})
    assert alerting.open_alerts.get("a1") is None


async def test_a_failed_alert_write_is_read_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    poller, alerting = make(store, clock)
    await poll(poller, alerting, clock, UNDER)
    save = store.save_alerts

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "save_alerts", refused)
    with pytest.raises(StoreError):
        await poll(poller, alerting, clock, OVER)
    monkeypatch.setattr(store, "save_alerts", save)
    reads = Reads(store, monkeypatch)
    await poll(poller, alerting, clock, OVER)
    assert reads.alerts == 1
    assert await kinds(store) == ["firing"]


async def test_a_lease_that_moved_and_came_back_is_read_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two members on one store: a1 fires on A (epoch 1), resolves on B (epoch 2), and is
    # over its cap again when A holds the lease once more (epoch 3). A must not trust what it
    # remembers from epoch 1 (the alert firing): a new incident, with its message.
    clock = Clock()
    poller_a, member_a = make(store, clock)
    poller_b, member_b = make(store, clock)
    with fenced(Fence("account:a1", "A", 1)):
        await poll(poller_a, member_a, clock, OVER)
    with fenced(Fence("account:a1", "B", 2)):
        for _ in range(3):
            await poll(poller_b, member_b, clock, UNDER)
    assert await kinds(store) == ["firing", "resolved"]
    reads = Reads(store, monkeypatch)
    samples = store.samples_of_accounts
    windows: list[int] = []  # the poll each window read came at (a load reads in slices)
    polls = 0

    async def counted(*args: Any) -> Any:
        windows.append(polls)
        return await samples(*args)

    monkeypatch.setattr(store, "samples_of_accounts", counted)
    with fenced(Fence("account:a1", "A", 3)):
        await poll(poller_a, member_a, clock, OVER)
        polls += 1
        await poll(poller_a, member_a, clock, OVER)
    assert await kinds(store) == ["firing", "resolved", "firing"]
    # read once after the move (at its first poll), then from memory
    assert reads.alerts == 1 and windows and set(windows) == {0}
