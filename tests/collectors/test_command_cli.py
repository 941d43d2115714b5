"""The command collector through the CLI: `collect --once` runs a real subprocess, stores its
readings for `report`, and a failing command is reported with its secret redacted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from quota_watch.cli.app import app

runner = CliRunner()
TOKEN = "fake-fly-token-0123456789"
PRINTS_USAGE = (
    f"import json, os; assert os.environ['FLY_API_TOKEN'] == {TOKEN!r}; "
    "print(json.dumps([{'limit': 'machines', 'value': 2}, "
    "{'limit': 'volumes', 'value': '1.5 GB', 'resource': 'vol_db'}]))"
)
FAILS = "import os, sys; sys.stderr.write('401 for ' + os.environ['FLY_API_TOKEN']); sys.exit(77)"


def write_config(tmp_path: Path, code: str) -> Path:
    document = {
        "store": {"url": f"sqlite:///{tmp_path / 'qw.db'}"},
        "accounts": [
            {
                "name": "fly",
                "collector": "command",
                "options": {
                    "command": [sys.executable, "-c", code],
                    "env": {"FLY_API_TOKEN": "${FLY_API_TOKEN}"},
                    "limits": {
                        "machines": {
                            "title": "Machines",
                            "unit": "count",
                            "measure": "level",
                            "cap": 3,
                        },
                        "volumes": {
                            "title": "Volumes",
                            "unit": "bytes",
                            "measure": "level",
                            "scope": "resource",
                            "cap": "3 GB",
                        },
                    },
                },
            }
        ],
    }
    path = tmp_path / "qw.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLY_API_TOKEN", TOKEN)


def test_collect_once_then_report(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINTS_USAGE)
    collected = runner.invoke(app, ["collect", "--once", "-f", "json", "-c", str(config)])
    assert collected.exit_code == 0, collected.output
    rows = {
        (r["limit"], r["resource"]): (r["value"], r["cap"]) for r in json.loads(collected.stdout)
    }
    assert rows == {("machines", None): (2.0, 3.0), ("volumes", "vol_db"): (1.5e9, 3e9)}
    report = runner.invoke(app, ["report", "-f", "json", "-c", str(config)])
    assert report.exit_code == 0, report.output
    assert {r["limit"] for r in json.loads(report.stdout)} == {"machines", "volumes"}


def test_a_failing_command_is_reported_without_its_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path, FAILS)
    result = runner.invoke(app, ["collect", "--once", "-c", str(config)])
    assert result.exit_code == 1
    assert "fly: auth: command" in result.output
    assert "401 for ***" in result.output
    assert TOKEN not in result.output
