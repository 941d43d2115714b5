"""The command line in-process: every verb, its output formats, exit codes and help."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.store.revision import HEAD_REVISION

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECRET_HEADER", "hunter2-secret")
    path = tmp_path / "qw.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "qw.db"}"
[[accounts]]
name = "vm"
collector = "host"
[[accounts]]
name = "api"
collector = "http_json"
enabled = false
[accounts.options]
url = "http://127.0.0.1:9/usage"
headers = {{ X-Api-Key = "${{SECRET_HEADER}}" }}
[accounts.options.limits.requests]
title = "Requests"
unit = "count"
measure = "cumulative"
period = "daily"
value = "n"
"""
    )
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["collect"],
        ["report"],
        ["plan"],
        ["collectors", "list"],
        ["config", "check"],
        ["config", "show"],
        ["config", "example"],
        ["db", "migrate"],
        ["db", "backup"],
        ["db", "restore"],
        ["notify", "test"],
        ["silence", "add"],
        ["silence", "list"],
        ["silence", "remove"],
        ["account", "resume"],
        ["rules", "test"],
        ["rules", "export"],
    ],
)
def test_every_command_has_help_with_examples(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output
    assert "quota-watch " + args[0] in result.output


def test_collectors_list() -> None:
    result = runner.invoke(app, ["collectors", "list"])
    assert result.exit_code == 0
    assert "host:" in result.output and "network_egress" in result.output
    data = json.loads(runner.invoke(app, ["collectors", "list", "-f", "json"]).output)
    host = next(c for c in data if c["name"] == "host")
    assert host["limits"]["network_egress"]["cap"] == 1e13


def test_config_show_redacts_secrets(config: Path) -> None:
    result = runner.invoke(app, ["config", "show", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "**********" in result.output
    as_json = runner.invoke(app, ["config", "show", "-c", str(config), "-f", "json"]).output
    assert "hunter2" not in as_json
    assert json.loads(as_json)["accounts"][0]["name"] == "vm"


def test_collect_requires_once(config: Path) -> None:
    result = runner.invoke(app, ["collect", "-c", str(config)])
    assert result.exit_code == 2
    assert "--once" in result.output


def test_collect_then_report_then_backup(config: Path, tmp_path: Path) -> None:
    collected = runner.invoke(
        app, ["collect", "--once", "-a", "vm", "-f", "json", "-c", str(config)]
    )
    assert collected.exit_code == 0, collected.output
    rows = json.loads(collected.stdout)
    assert {r["limit"] for r in rows} >= {"disk_used", "block_storage"}

    report = runner.invoke(app, ["report", "-f", "json", "-c", str(config)])
    assert report.exit_code == 0, report.output
    reported = json.loads(report.stdout)
    assert {r["status"] for r in reported} <= {"ok", "warning", "critical", "stale", "unknown"}
    for key in ("forecast_value", "forecast_utilization", "exhausts_at", "resets_at"):
        assert all(key in r for r in reported)
    table = runner.invoke(app, ["report", "-c", str(config)], env={"COLUMNS": "160"})
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:3] == ["STATUS", "PROVIDER", "ACCOUNT"]
    assert "disk_used" in table.stdout

    backup = tmp_path / "backup.db"
    result = runner.invoke(app, ["db", "backup", str(backup), "-c", str(config)])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM sample").fetchone()[0] == len(rows)
    finally:
        conn.close()
    again = runner.invoke(app, ["db", "backup", str(backup), "-c", str(config)])
    assert again.exit_code == 1
    assert "exists" in again.output


def test_unknown_account_is_an_error(config: Path) -> None:
    result = runner.invoke(app, ["collect", "--once", "-a", "nope", "-c", str(config)])
    assert result.exit_code == 2
    assert "unknown account(s): nope" in result.output


def test_db_migrate(config: Path) -> None:
    result = runner.invoke(app, ["db", "migrate", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert f"schema at revision {HEAD_REVISION}" in result.output


def test_report_before_any_poll_says_so(config: Path) -> None:
    runner.invoke(app, ["db", "migrate", "-c", str(config)])
    result = runner.invoke(app, ["report", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "no readings yet" in result.output


def test_silence_add_list_remove(config: Path) -> None:
    added = runner.invoke(
        app,
        [
            "silence",
            "add",
            "-m",
            "account=vm,limit=block_storage",
            "--for",
            "2h",
            "--reason",
            "resizing the volume",
            "-c",
            str(config),
        ],
    )
    assert added.exit_code == 0, added.output
    assert added.output.startswith("silence 1 until ")
    listed = runner.invoke(app, ["silence", "list", "-c", str(config)])
    assert "account=vm,limit=block_storage" in listed.output
    assert "active" in listed.output and "resizing the volume" in listed.output
    removed = runner.invoke(app, ["silence", "remove", "1", "-c", str(config)])
    assert removed.exit_code == 0
    assert runner.invoke(app, ["silence", "list", "-c", str(config)]).output.strip() == (
        "no silences"
    )
    again = runner.invoke(app, ["silence", "remove", "1", "-c", str(config)])
    assert again.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "colour=red", "--for", "1h", "--reason", "x"], "unknown key 'colour'"),
        (["-m", "account", "--for", "1h", "--reason", "x"], "is not key=value"),
        (["-m", "account=vm", "--for", "soon", "--reason", "x"], "--for:"),
        (["-m", "account=vm", "--for", "1h", "--reason", " "], "--reason"),
    ],
)
def test_silence_add_rejects_bad_input(config: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["silence", "add", *args, "-c", str(config)])
    assert result.exit_code == 2
    assert message in result.output


def test_notify_test_reports_each_notifier(config: Path, tmp_path: Path) -> None:
    from tests.support.receivers import HttpReceiver

    with HttpReceiver() as good:
        text = config.read_text() + (
            f'\n[[notifiers]]\nname = "good"\nurl = "json://127.0.0.1:{good.port}/x"\n'
            '\n[[notifiers]]\nname = "down"\nurl = "json://127.0.0.1:9/x"\n'
            '\n[[notifiers]]\nname = "warn-only"\nurl = "json://127.0.0.1:9/x"\n'
            'severities = ["warning"]\n'
        )
        config.write_text(text)
        result = runner.invoke(app, ["notify", "test", "-c", str(config)])
        assert result.exit_code == 1, result.output
        assert "good: sent" in result.output
        assert "down: FAILED" in result.output
        assert (
            "warn-only: skipped: takes warning messages, not critical (try --severity warning)"
            in result.output
        )
        (title,) = good.titles()
        assert title.startswith("[TEST]")


def test_rules_test_shows_forecast_lead(config: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "rules" / "examples" / "month_daily.toml"
    result = runner.invoke(app, ["rules", "test", str(example), "--no-messages"])
    assert result.exit_code == 0, result.output
    assert "firing       [WARNING] example/example-main api_requests projected" in result.output
    # one line per period, in human units (never a raw timedelta such as "-1 day, 5:00:00")
    assert (
        "forecast warning (period from 2026-03-01 00:00 UTC): 9d 15h before the threshold warning"
        in result.output
    )


def test_rules_test_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("points = 3\n")
    result = runner.invoke(app, ["rules", "test", str(bad)])
    assert result.exit_code == 2
    assert "cannot replay" in result.output


def test_db_restore(config: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["collect", "--once", "-a", "vm", "-c", str(config)])
    backup = tmp_path / "b.db"
    assert runner.invoke(app, ["db", "backup", str(backup), "-c", str(config)]).exit_code == 0
    refused = runner.invoke(app, ["db", "restore", str(backup), "-c", str(config)])
    assert refused.exit_code == 1
    assert "restore failed" in refused.output
    done = runner.invoke(app, ["db", "restore", "--force", str(backup), "-c", str(config)])
    assert done.exit_code == 0, done.output
    assert "the previous database is kept as" in done.output
    report = runner.invoke(app, ["report", "-f", "json", "-c", str(config)])
    assert report.exit_code == 0 and json.loads(report.stdout)


def test_dashboards_export_refuses_dash_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for option in ("-o", "--output"):
        for extra in ([], ["--check"]):
            result = runner.invoke(app, ["dashboards", "export", option, "-", *extra])
            assert result.exit_code == 2, result.output
            assert result.stdout == ""
            assert result.stderr.splitlines() == [
                "--output: dashboards export writes three files; give a directory "
                "(`-` is only for `rules export`)"
            ]
            assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [["report"], ["plan"], ["history", "--account", "vm", "--limit", "disk_used"]],
)
def test_a_sqlite_url_with_options_is_a_clear_error(tmp_path: Path, argv: list[str]) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}?timeout=5"\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\n'
    )
    result = runner.invoke(app, [*argv, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "store.url: SQLite URL options are not supported: ['timeout']" in result.output
    assert "Traceback" not in result.output


def test_rules_test_csv_billing_cycle_with_anchor_and_zone(tmp_path: Path) -> None:
    # two Los Angeles billing cycles (anchor day 17): 0.2 GB an hour from each cycle's start
    start = datetime(2026, 3, 17, 7, tzinfo=UTC)  # 00:00 in Los Angeles (PDT)
    rows = ["ts,value"]
    for hour in range(0, 24 * 35, 3):
        ts = start + timedelta(hours=hour)
        cycle = 0 if ts < datetime(2026, 4, 17, 7, tzinfo=UTC) else 1
        since = ts - (start if cycle == 0 else datetime(2026, 4, 17, 7, tzinfo=UTC))
        rows.append(f"{ts.isoformat()},{since.total_seconds() / 3600 * 0.2e9:.0f}")
    path = tmp_path / "bandwidth.csv"
    path.write_text("\n".join(rows) + "\n")
    args = ["rules", "test", str(path), "--no-messages", "--unit", "bytes"]
    args += ["--measure", "cumulative", "--cap", "100 GB", "--period", "billing_cycle"]
    result = runner.invoke(app, [*args, "--anchor-day", "17", "--tz", "America/Los_Angeles"])
    assert result.exit_code == 0, result.output
    assert "period_reset" in result.output
    # the cycle starts at midnight in Los Angeles (07:00 UTC), the lead is in human units
    leads = [line for line in result.output.splitlines() if line.startswith("forecast warning")]
    assert leads and all(" day" not in line and ":00:00" not in line for line in leads)
    assert "period from 2026-03-17 07:00 UTC" in leads[0]
    assert leads[0].endswith("before the threshold warning")
    bad = runner.invoke(app, [*args, "--anchor-day", "17", "--tz", "Mars/Olympus"])
    assert bad.exit_code == 2
    assert "unknown time zone" in bad.output
