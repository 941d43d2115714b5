"""Values set by hand: `store_set_value` stores them with one poll, and a daemon's poller that
cached the account's state sees them on its next poll (it re-reads a settable collector's state)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quota_watch.collect.poller import Poller
from quota_watch.collect.runtime import OFFLINE_CLIENT, build_runtimes
from quota_watch.collect.setvalue import SetRefused, prepare_set, store_set_value
from quota_watch.config.load import load_config
from quota_watch.config.settings import Config
from quota_watch.sdk import SetValue, set_values, with_set_value
from quota_watch.store.facade import Store

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the CLI side opens the same file through the config."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    path = tmp_path / "qw.toml"
    path.write_text(
        f"""
[store]
url = "{store_url}"
[[accounts]]
name = "render"
collector = "manual"
[accounts.options.limits.bandwidth]
title = "Bandwidth"
unit = "bytes"
measure = "cumulative"
period = "calendar_month"
""",
        encoding="utf-8",
    )
    return load_config(path)


async def test_a_running_pollers_next_poll_reports_a_value_set_elsewhere(
    config: Config, store: Store
) -> None:
    daemon_rt = build_runtimes(config, OFFLINE_CLIENT)["render"]
    daemon = Poller(store, lambda: NOW)
    assert (await daemon.poll(daemon_rt)).outcome == "no_data"

    rt, value = prepare_set(config, "render", "bandwidth", "62 GB", now=NOW)
    stored = await store_set_value(config, rt, value)
    assert stored.outcome == "success"

    again = await daemon.poll(daemon_rt)
    assert again.outcome == "success"
    assert [(r.limit, r.value) for r in again.readings] == [("bandwidth", 62e9)]
    assert set_values(await store.load_state("render")) == [value]


def test_an_unknown_limit_is_refused(config: Config) -> None:
    with pytest.raises(SetRefused, match="has no limit 'egress'"):
        prepare_set(config, "render", "egress", "1", now=NOW)


def test_a_newer_value_replaces_the_one_with_the_same_key() -> None:
    older = SetValue("bandwidth", 1.0, NOW)
    other = SetValue("sites", 2.0, NOW, resource="blog")
    newer = SetValue("bandwidth", 3.0, NOW)
    state = with_set_value(with_set_value(with_set_value({"x": 1}, older), other), newer)
    assert state["x"] == 1
    assert set_values(state) == [other, newer]


@pytest.mark.parametrize(
    "raw",
    [
        "not a list",
        [{"limit": "b", "value": 1}],
        [{"limit": "b", "value": True, "at": NOW.isoformat()}],
        [{"limit": "b", "value": -1, "at": NOW.isoformat()}],
        [{"limit": "b", "value": 1, "at": "2026-12-03T10:00:00"}],
    ],
)
def test_malformed_stored_values_are_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        set_values({"set_values": raw})
