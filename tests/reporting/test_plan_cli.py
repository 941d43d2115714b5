"""`quota-watch plan` end to end on a real SQLite store: formats, filters and errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading
from tests.support.widths import WIDTHS, assert_fits

runner = CliRunner()
MB = 1_000_000.0


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for every sentence on one line (the width tests set their own)."""
    monkeypatch.setenv("COLUMNS", "200")


def account_toml(name: str, group: str | None) -> str:
    group_line = f'group = "{group}"\n' if group else ""
    return f"""
[[accounts]]
name = "{name}"
collector = "http_json"
{group_line}[accounts.options]
url = "http://127.0.0.1:9/usage"
[accounts.options.limits.storage]
title = "Stored bytes"
unit = "bytes"
measure = "level"
period = "none"
cap = "500 MB"
value = "storage"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "qw.toml"
    text = f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n'
    for name in ("b-1", "b-2", "b-3"):
        text += account_toml(name, "buckets")
    text += account_toml("solo", None)
    path.write_text(text, encoding="utf-8")
    return path


async def fill(db: Path, start: dict[str, float], per_hour: dict[str, float]) -> None:
    """Six hourly readings per account up to now (level limit: no period boundary to cross)."""
    now = datetime.now(UTC).replace(microsecond=0)
    store = await Store.open(f"sqlite:///{db}")
    try:
        for hour in range(5, -1, -1):
            ts = now - timedelta(hours=hour)
            for name, first in start.items():
                value = first + per_hour[name] * (5 - hour)
                reading = StoredReading(
                    "http_json", name, "storage", None, "bytes", "level",
                    value, 500 * MB, "override", None, None, ts,
                )  # fmt: skip
                run = RunRecord("http_json", name, ts, ts, "success", None, 1)
                await store.record_poll(run, [reading])
    finally:
        await store.close()


@pytest.fixture
def filled(config: Path, tmp_path: Path) -> Path:
    # Over the 30-day horizon b-3 grows 1.5 MB/h: 157.5 MB now + 1,080 MB = 1,237.5 MB; b-1 and
    # b-2 0.1 MB/h: 100.5 + 72 = 172.5 MB each. Pool peak 1,582.5 MB; solo nearly full.
    asyncio.run(
        fill(
            tmp_path / "qw.db",
            {"b-1": 100 * MB, "b-2": 100 * MB, "b-3": 150 * MB, "solo": 450 * MB},
            {"b-1": 0.1 * MB, "b-2": 0.1 * MB, "b-3": 1.5 * MB, "solo": 2 * MB},
        )
    )
    return config


def test_plan_table_names_binding_limit_hot_shard_and_date(filled: Path) -> None:
    result = runner.invoke(app, ["plan", "-c", str(filled)])
    assert result.exit_code == 0, result.output
    out = result.output
    # 1,582.5 MB / (500 MB * 0.7) = 4.52 -> 5 shards
    assert "Pool buckets (http_json, 3 shards: b-1, b-2, b-3) - needs 5 shards" in out
    assert "* storage" in out and "b-3 (" in out
    assert "add 2 shard accounts before" in out
    assert "Binding limit: Stored bytes. Hot shard: b-3." in out
    # solo: 460 MB + 2 MB/h x 720 h = 1,900 MB -> 1,900 / 350 = 5.4 -> 6 accounts
    assert "Account solo (http_json): split the workload over 6 accounts" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_table_fits_the_terminal_width(
    filled: Path, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    wide = runner.invoke(app, ["plan", "-c", str(filled), "--all"])
    assert wide.exit_code == 0, wide.output
    monkeypatch.setenv("COLUMNS", str(width))
    result = runner.invoke(app, ["plan", "-c", str(filled), "--all"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert_fits(out, width, wide.output)
    assert "\x1b[" not in out  # not a terminal: plain text
    # Each advice paragraph whole, under a hanging indent.
    advice = out.split("per shard):\n", 1)[1].splitlines()
    assert advice and all(line.startswith(("  - ", "    ")) for line in advice)
    flat = " ".join(out.split())
    assert "Binding limit: Stored bytes. Hot shard: b-3." in flat
    assert "* storage" in out and "NEED" in out


def test_plan_json_and_markdown(filled: Path) -> None:
    result = runner.invoke(app, ["plan", "-c", str(filled), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    (pool,) = document["pools"]
    assert (pool["group"], pool["shards"], pool["recommended"]) == ("buckets", 3, 5)
    (limit,) = pool["limits"]
    assert limit["hottest"] == "b-3" and limit["binding"] is True
    assert limit["projected_from"] == "horizon"
    assert limit["projected_peak"] == pytest.approx(1582.5 * MB, rel=1e-6)
    assert isinstance(limit["forecast_points"], int) and limit["forecast_points"] >= 4
    assert pool["advice"]["kind"] == "split" and pool["advice"]["act_by"].endswith("Z")
    assert [a["account"] for a in document["advice"]] == ["solo"]
    markdown = runner.invoke(app, ["plan", "-c", str(filled), "-f", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    assert (
        "### Pool buckets (http_json, 3 shards: b-1, b-2, b-3) - needs 5 shards" in markdown.output
    )
    assert "| **storage** (binding) |" in markdown.output


def test_plan_group_filter_and_unknown_group(filled: Path) -> None:
    only = runner.invoke(app, ["plan", "-c", str(filled), "--group", "buckets", "-f", "json"])
    assert only.exit_code == 0, only.output
    assert json.loads(only.output)["advice"] == []  # solo is not in the pool
    bad = runner.invoke(app, ["plan", "-c", str(filled), "--group", "nope"])
    assert bad.exit_code == 2
    assert "--group: no pool named 'nope' (configured pools: buckets)" in bad.output


def test_pool_mixing_providers_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "qw.toml"
    path.write_text(
        account_toml("b-1", "buckets")
        + '\n[[accounts]]\nname = "vm"\ncollector = "host"\ngroup = "buckets"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code == 2
    assert "accounts[1].group: shard pool 'buckets' already holds 'http_json' accounts" in (
        result.output
    )
    assert "Traceback" not in result.output
