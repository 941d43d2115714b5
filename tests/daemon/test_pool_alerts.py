"""A pool planned on a real store: QuotaShardSplitAdvised once per pool and period; pool metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quota_watch.collect.poller import Poller
from quota_watch.collect.runtime import AccountRuntime
from quota_watch.config.load import validate_config
from quota_watch.config.settings import Config
from quota_watch.daemon.alerting import Alerting
from quota_watch.engine.shard_alert import pool_account
from quota_watch.prometheus.exposition import PoolFacts, PoolLimitFacts, Snapshot, render
from quota_watch.sdk import Reading
from quota_watch.store.facade import Store
from tests.support.fakes import FakeCollector, account, runtime

START = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
MEMBERS = ("s1", "s2", "s3")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def config(store_url: str) -> Config:
    return validate_config(
        {
            "store": {"url": store_url},
            # the pool plan projects from an hour of polls: forecast figures from 30 minutes
            "rules": [{"forecast_min_span": "30m"}],
            "notifiers": [
                {
                    "name": "chat",
                    "url": "json://127.0.0.1:9/hook",
                    "severities": ["critical", "warning", "info"],  # info is opt-in
                }
            ],
        },
        None,
        {},
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the shared `store` fixture opens this one."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture(autouse=True)
def reset_fake() -> None:
    FakeCollector.script = []


def pool() -> dict[str, AccountRuntime]:
    return {name: runtime(account(name, group="edge")) for name in MEMBERS}


async def poll_all(
    alerting: Alerting,
    poller: Poller,
    members: dict[str, AccountRuntime],
    values: dict[str, float],
) -> None:
    for name, rt in members.items():
        FakeCollector.script = [[Reading("requests", values[name])]]
        result = await poller.poll(rt)
        assert result.outcome == "success"
        await alerting.after_poll(rt, result)


async def grow(
    alerting: Alerting,
    poller: Poller,
    clock: Clock,
    members: dict[str, AccountRuntime],
    per_poll: dict[str, float],
    polls: int,
    start: dict[str, float] | None = None,
) -> None:
    """Polls every 10 minutes, each account's requests growing by `per_poll`."""
    base = start or dict.fromkeys(per_poll, 0.0)
    for step in range(1, polls + 1):
        await poll_all(
            alerting, poller, members, {n: base[n] + per_poll[n] * step for n in per_poll}
        )
        clock.now += timedelta(minutes=10)


async def test_split_advice_fires_once_per_pool_and_period(store: Store) -> None:
    clock = Clock()
    alerting = Alerting(store, config(store.display_url), clock)
    poller = Poller(store, clock)
    members = pool()
    # 06:00-07:00 UTC: s3 gains 1,000 a poll (6k/h -> ~108k by midnight), the others 700.
    await grow(alerting, poller, clock, members, {"s1": 700, "s2": 700, "s3": 1000}, 6)
    await alerting.evaluate_pool("edge", members)
    plan = alerting.pools["edge"]
    assert plan.binding is not None and plan.binding.limit == "requests"
    assert plan.recommended == 4  # ~ (76k + 76k + 108k) / 70k = 3.7
    assert plan.advice.kind == "split"
    assert plan.advice.hot_shard == "s3"
    (alert,) = await store.load_alerts(account=pool_account("edge"))
    assert (alert.alertname, alert.severity, alert.status) == (
        "QuotaShardSplitAdvised",
        "info",
        "firing",
    )
    assert alert.group == "edge" and alert.limit == "requests"
    assert alert.exhausts_at is not None  # the hot shard fills up today
    messages = await store.pending_messages("chat")
    shard_messages = [m for m in messages if m.fingerprint == alert.fingerprint]
    assert [m.kind for m in shard_messages] == ["firing"]
    assert "quota-watch plan" in shard_messages[0].body_text
    assert shard_messages[0].title.startswith(
        "[INFO] fake/pool:edge requests needs more shards: projected at 8"
    )

    # More polls and plans in the same period: no second message, figures move on.
    await grow(
        alerting,
        poller,
        clock,
        members,
        {"s1": 700, "s2": 700, "s3": 1000},
        3,
        start={"s1": 4200, "s2": 4200, "s3": 6000},
    )
    await alerting.evaluate_pool("edge", members)
    shard = [m for m in await store.pending_messages("chat") if m.fingerprint == alert.fingerprint]
    assert [m.kind for m in shard] == ["firing"]
    (still,) = await store.load_alerts(account=pool_account("edge"))
    assert still.value > alert.value

    # A fourth shard joins: the pool has enough, the alert resolves with a message.
    members["s4"] = runtime(account("s4", group="edge"))
    FakeCollector.script = [[Reading("requests", 0.0)]]
    await alerting.after_poll(members["s4"], await poller.poll(members["s4"]))
    clock.now += timedelta(minutes=1)
    await alerting.evaluate_pool("edge", members)
    assert alerting.pools["edge"].advice.kind != "split"
    resolved = await store.load_alerts(account=pool_account("edge"), include_resolved=True)
    assert [a.status for a in resolved] == ["resolved"]

    # Still the same day: the advice coming back does not notify again (once per period).
    del members["s4"]
    clock.now += timedelta(minutes=1)
    await alerting.evaluate_pool("edge", members)
    kinds = [
        m.kind for m in await store.pending_messages("chat") if m.fingerprint == alert.fingerprint
    ]
    assert kinds == ["firing", "resolved"]

    # The next day is a new period: a new alert.
    clock.now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    await grow(alerting, poller, clock, members, {"s1": 700, "s2": 700, "s3": 1000}, 6)
    await alerting.evaluate_pool("edge", members)
    current = await store.load_alerts(account=pool_account("edge"))
    assert [a.status for a in current] == ["firing"]
    assert current[0].fingerprint != alert.fingerprint
    assert current[0].period_start == datetime(2026, 11, 23, tzinfo=UTC)


async def test_disabled_shard_rule_plans_but_does_not_alert(store: Store, tmp_path: Path) -> None:
    pack = tmp_path / "rules.toml"
    pack.write_text("[shard]\nenabled = false\n", encoding="utf-8")
    cfg = validate_config(
        {
            "store": {"url": store.display_url},
            "alerts": {"rule_pack": str(pack)},
            "rules": [{"forecast_min_span": "30m"}],  # as config() above
        },
        None,
        {},
    )
    clock = Clock()
    alerting = Alerting(store, cfg, clock)
    poller = Poller(store, clock)
    members = pool()
    await grow(alerting, poller, clock, members, {"s1": 700, "s2": 700, "s3": 1000}, 6)
    await alerting.evaluate_pool("edge", members)
    assert alerting.pools["edge"].advice.kind == "split"
    assert await store.load_alerts(account=pool_account("edge")) == []


def test_pool_metrics_render_with_their_labels() -> None:
    snapshot = Snapshot(
        readings=(),
        statuses=(),
        accounts=(),
        pools=[
            PoolFacts(
                provider="cloudflare",
                group="edge",
                shards=3,
                limits=[PoolLimitFacts("workers_requests", 0.39, 0.83, 4)],
            )
        ],
    )
    families = {f.name: f for f in text_string_to_metric_families(render(snapshot).decode())}
    (shards,) = families["quota_watch_pool_shards"].samples
    assert shards.labels == {"provider": "cloudflare", "group": "edge"} and shards.value == 3
    expected = {
        "quota_watch_pool_shards_recommended": 4,
        "quota_watch_pool_utilization_ratio": 0.39,
        "quota_watch_pool_forecast_utilization_ratio": 0.83,
    }
    for name, value in expected.items():
        (sample,) = families[name].samples
        assert sample.labels == {
            "provider": "cloudflare",
            "group": "edge",
            "limit": "workers_requests",
        }
        assert sample.value == value
