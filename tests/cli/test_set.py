"""`quota-watch set` end to end in-process: checked, stored as a sample, shown by report and plan,
reported again by later polls, refused with exit 2 when it cannot apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app

runner = CliRunner()
GB = 1e9

MANUAL_LIMITS = """
[accounts.options.limits.bandwidth]
title = "Bandwidth this month"
unit = "bytes"
measure = "cumulative"
period = "calendar_month"
cap = "100 GB"
[accounts.options.limits.sites]
title = "Static sites"
unit = "count"
measure = "level"
scope = "resource"
[accounts.options.limits.databases]
title = "Free databases"
unit = "count"
measure = "level"
cap = 1
value = 1
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "qw.toml"
    accounts = "".join(
        f'[[accounts]]\nname = "{name}"\ncollector = "manual"\ngroup = "render"\n{MANUAL_LIMITS}'
        for name in ("render-a", "render-b")
    )
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n'
        f'[[accounts]]\nname = "vm"\ncollector = "host"\n{accounts}',
        encoding="utf-8",
    )
    return path


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-c", str(config)])
    return result.exit_code, result.output


def report(config: Path) -> dict[tuple[str, str, str | None], dict[str, object]]:
    code, output = invoke(config, "report", "-f", "json")
    assert code == 0, output
    return {(r["account"], r["limit"], r["resource"]): r for r in json.loads(output)}


def test_a_set_value_is_stored_and_reported(config: Path) -> None:
    code, output = invoke(config, "set", "render-a", "bandwidth", "62 GB")
    assert code == 0, output
    assert output.strip().startswith("render-a bandwidth = 62")
    code, output = invoke(config, "set", "render-a", "sites", "2", "--cap", "3", "-r", "blog")
    assert code == 0, output
    rows = report(config)
    bandwidth = rows[("render-a", "bandwidth", None)]
    assert (bandwidth["value"], bandwidth["cap"]) == (62 * GB, 100 * GB)
    sites = rows[("render-a", "sites", "blog")]
    assert (sites["value"], sites["cap"]) == (2.0, 3.0)
    # the config's value is stored by the same poll
    assert rows[("render-a", "databases", None)]["value"] == 1.0


def test_a_later_poll_reports_the_set_value_again(config: Path) -> None:
    assert invoke(config, "set", "render-a", "bandwidth", "62GB")[0] == 0
    code, output = invoke(config, "collect", "--once", "-a", "render-a", "-f", "json")
    assert code == 0, output
    polled = {(r["limit"], r["resource"]): r["value"] for r in json.loads(output)}
    assert polled == {("bandwidth", None): 62 * GB, ("databases", None): 1.0}


def test_a_newer_set_value_replaces_the_older(config: Path) -> None:
    assert invoke(config, "set", "render-a", "bandwidth", "62GB")[0] == 0
    assert invoke(config, "set", "render-a", "bandwidth", "70GB")[0] == 0
    code, output = invoke(config, "collect", "--once", "-a", "render-a", "-f", "json")
    assert code == 0, output
    assert {r["limit"]: r["value"] for r in json.loads(output)}["bandwidth"] == 70 * GB


def test_set_values_reach_the_pool_plan(config: Path) -> None:
    assert invoke(config, "set", "render-a", "bandwidth", "90 GB")[0] == 0
    assert invoke(config, "set", "render-b", "bandwidth", "40 GB")[0] == 0
    code, output = invoke(config, "plan", "-f", "json", "--all")
    assert code == 0, output
    (pool,) = json.loads(output)["pools"]
    assert pool["group"] == "render"
    assert pool["shards"] == 2
    bandwidth = next(limit for limit in pool["limits"] if limit["limit"] == "bandwidth")
    assert bandwidth["hottest"] == "render-a"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "bandwidth", "1"), "unknown account 'nobody'"),
        (("vm", "disk_used", "1"), "takes no values set by hand"),
        (("render-a", "egress", "1"), "has no limit 'egress'"),
        (("render-a", "bandwidth", "5 apples"), "VALUE: "),
        (("render-a", "bandwidth", "1e400"), "VALUE: "),
        (("render-a", "bandwidth", "5 GB", "--cap", "lots"), "--cap: "),
        (("render-a", "databases", "0"), "has its value in the config"),
        (("render-a", "sites", "1"), "give --resource"),
        (("render-a", "bandwidth", "1", "-r", "x"), "per account"),
    ],
)
def test_refused_with_exit_2(config: Path, args: tuple[str, ...], message: str) -> None:
    code, output = invoke(config, "set", *args)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output
