"""`quota-watch report`: every format against its snapshot, filters, --fail-on exit codes,
colour only on a terminal, and the advice seam."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.model import AlertState, Silence
from quota_watch.reporting import command
from quota_watch.reporting.command import wants_colour
from quota_watch.reporting.entries import Entry
from quota_watch.reporting.render import (
    JSON_KEYS,
    bar,
    to_csv,
    to_json,
    to_markdown,
    to_table,
)
from quota_watch.reporting.sparkline import sparkline
from quota_watch.store.facade import Store
from tests.support import report_site
from tests.support.factories import make_alert
from tests.support.report_site import NOW, Site, assert_snapshot
from tests.support.widths import WIDTHS, assert_fits

runner = CliRunner()

DESIGN_KEYS = (
    "provider",
    "account",
    "limit",
    "resource",
    "value",
    "cap",
    "cap_source",
    "unit",
    "utilization",
    "period_start",
    "period_end",
    "status",
    "forecast_value",
    "forecast_utilization",
    "exhausts_at",
    "resets_at",
)

site_template = report_site.site_template  # the fixtures, shared
site = report_site.site


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "utcnow", lambda: NOW)
    monkeypatch.setenv("COLUMNS", "160")  # the snapshots' width; tests of other widths set theirs


def report(site: Site, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", "-c", str(site.config_path), *args])
    return result.exit_code, result.stdout, result.stderr


def rows(site: Site, *args: str) -> list[dict[str, object]]:
    code, out, err = report(site, "-f", "json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list)
    return data


@pytest.mark.parametrize(
    ("fmt", "snapshot"),
    [
        ("table", "report.txt"),
        ("json", "report.json"),
        ("csv", "report.csv"),
        ("markdown", "report.md"),
    ],
)
def test_each_format_matches_its_snapshot(site: Site, fmt: str, snapshot: str) -> None:
    code, out, err = report(site, "--format", fmt)
    assert code == 0, err
    assert "\x1b[" not in out  # not a terminal: no colour
    assert_snapshot(snapshot, out)


def test_json_has_the_design_keys_riskiest_first(site: Site) -> None:
    data = rows(site)
    assert [tuple(r) for r in data] == [JSON_KEYS] * len(data)
    assert set(DESIGN_KEYS) <= set(JSON_KEYS)
    order = {"critical": 0, "warning": 1, "stale": 2, "unknown": 3, "ok": 4}
    ranks = [order[str(r["status"])] for r in data]
    assert ranks == sorted(ranks)
    by_series = {(r["account"], r["limit"], r["resource"]): r for r in data}
    logs = by_series[("cf-main", "bucket_ops", "logs")]
    assert logs["status"] == "critical" and logs["utilization"] == pytest.approx(1.02)
    assert logs["group"] == "edge" and logs["cap_source"] == "catalogue"
    assert by_series[("cf-main", "requests", None)]["status"] == "warning"
    assert by_series[("old", "requests", None)]["status"] == "stale"
    assert by_series[("free", "events", None)]["status"] == "unknown"
    assert by_series[("free", "events", None)]["cap"] is None
    requests = by_series[("cf-main", "requests", None)]
    assert requests["resets_at"] == "2026-03-15T00:00:00Z"
    assert requests["forecast_utilization"] > 1.0  # type: ignore[operator]
    # 15 daily maxima, today last: 7k requests an hour, noon now, 23:xx on earlier days
    spark = requests["sparkline"]
    assert isinstance(spark, list) and len(spark) == 15
    assert spark[-1] == pytest.approx(84_000) and spark[-2] == pytest.approx(7_000 * 18)


def test_csv_rows_are_the_json_rows(site: Site) -> None:
    code, out, _ = report(site, "-f", "csv")
    assert code == 0
    assert out.endswith("\r\n") or out.endswith("\n")
    # RFC 4180 line ends (CliRunner's stdout folds them into \n: check the renderer's text)
    assert to_csv(_entries(site)).count("\r\n") == len(rows(site)) + 1
    table = list(csv.reader(io.StringIO(out)))
    assert tuple(table[0]) == JSON_KEYS
    data = rows(site)
    assert len(table) == len(data) + 1
    for line, obj in zip(table[1:], data, strict=True):
        for key, cell in zip(JSON_KEYS, line, strict=True):
            value = obj[key]
            if key == "sparkline":
                assert isinstance(value, list)
                assert cell.split(" ") == ["" if v is None else repr(v) for v in value]
            elif value is None:
                assert cell == ""
            elif isinstance(value, bool):
                assert cell == json.dumps(value)
            elif isinstance(value, float):
                assert float(cell) == value
            else:
                assert cell == str(value)


def test_table_groups_by_account_with_bars_and_units(site: Site) -> None:
    code, out, _ = report(site)
    assert code == 0
    blocks = out.split("\n\n")
    assert len(blocks) == 6  # one per account, then the plan's advice
    assert blocks[-1].startswith("Advice:\n  - Pool edge (http_json): add 2 shard accounts before")
    header, *first = blocks[0].splitlines()
    assert header.split()[:5] == ["STATUS", "PROVIDER", "ACCOUNT", "POOL", "LIMIT"]
    assert first[0].split()[:5] == ["critical", "http_json", "cf-main", "edge", "bucket_ops[logs]"]
    assert first[1].split()[0] == "warning"  # the account shown once, its rows riskiest first
    assert "cf-main" not in first[1]
    assert bar(1.02) in first[0] and "1.02M / 1M operations" in first[0]
    # In the limit's display unit when it has one (build_time: minutes), else the base unit's.
    assert "660 MB / 1 GB" in out and "720 / 2,000 minutes" in out and "84k / 100k" in out


def test_advice_plans_the_whole_pool_under_an_account_filter(site: Site) -> None:
    code, whole, _ = report(site)
    code, filtered, _ = report(site, "--account", "cf-spare")
    assert code == 0
    pool_line = next(line for line in whole.splitlines() if line.startswith("  - Pool edge"))
    assert pool_line in filtered.splitlines()  # cf-main's usage still counts for the pool
    assert "Logs (" not in filtered  # cf-main's own bucket is not shown or advised on


def test_filters(site: Site) -> None:
    assert {r["account"] for r in rows(site, "--group", "edge")} == {"cf-main", "cf-spare"}
    assert {r["account"] for r in rows(site, "-a", "gh,old")} == {"gh", "old"}
    assert {r["account"] for r in rows(site, "-a", "gh", "-a", "free")} == {"gh", "free"}
    statuses = {r["status"] for r in rows(site, "--status", "critical", "--status", "stale")}
    assert statuses == {"critical", "stale"}
    assert len(rows(site, "--provider", "http_json")) == len(rows(site))
    assert rows(site, "--group", "edge", "--status", "unknown") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--status", "bogus"],
            "--status: unknown value 'bogus' (valid: critical, warning, stale, unknown, ok)",
        ),
        (["--provider", "aws,nope"], "--provider: unknown values 'aws', 'nope' (valid: http_json)"),
        (["--group", "core"], "--group: unknown value 'core' (valid: edge)"),
        (
            ["--account", "nope"],
            "--account: unknown value 'nope' (valid: cf-main, cf-spare, gh, old, free)",
        ),
    ],
)
def test_unknown_filter_values_exit_2_naming_the_option(
    site: Site, args: list[str], message: str
) -> None:
    code, out, err = report(site, *args)
    assert code == 2
    assert message in err
    assert out == "" and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 0),  # no --fail-on: 0 whatever the status
        (["--fail-on", "critical"], 1),
        (["--fail-on", "warning"], 1),
        (["--fail-on", "critical", "--account", "cf-spare"], 0),
        (["--fail-on", "warning", "--account", "cf-spare,gh"], 0),
        (["--fail-on", "warning", "--account", "old"], 1),  # stale counts as a warning
        (["--fail-on", "critical", "--account", "old"], 0),
        (["--fail-on", "warning", "--account", "cf-main", "--status", "ok"], 0),  # shown rows
        (["--fail-on", "fatal"], 2),
    ],
)
def test_fail_on_exit_codes(site: Site, args: list[str], code: int) -> None:
    got, out, err = report(site, "-f", "json", *args)
    assert got == code, err
    if code != 2:
        json.loads(out)  # the report is printed either way


def test_help_documents_the_exit_codes() -> None:
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0" in text and "1 a shown row is at or above the --fail-on level" in text
    assert "2 bad input" in text and "--format markdown" in text


def test_report_without_a_database_says_so(tmp_path: Path) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "none.db"}"\n')
    result = runner.invoke(app, ["report", "-c", str(config)])
    assert result.exit_code == 1
    assert "no readings yet" in result.stderr


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert wants_colour(True, {})
    assert not wants_colour(True, {"NO_COLOR": "1"})
    assert not wants_colour(True, {"TERM": "dumb"})
    assert not wants_colour(False, {})
    assert wants_colour(True, {"NO_COLOR": ""})  # no-color.org: only a non-empty value counts


def _entries(site: Site) -> list[Entry]:
    config = site.config()
    runtimes = command.account_runtimes(config, lambda _a: True)
    return asyncio.run(command.read_entries(site.store_url, config, runtimes, NOW))


def test_rich_table_colours_what_the_plain_table_shows(site: Site) -> None:
    entries = _entries(site)
    coloured = to_table(entries, NOW, width=220, colour=True)
    assert "\x1b[" in coloured
    assert "\x1b[1;31mcritical" in coloured  # status in bold red
    plain = to_table(entries, NOW, width=220)
    assert "\x1b[" not in plain
    for entry in entries:
        assert entry.row.limit in coloured and entry.row.account in plain


def test_advice_goes_below_the_table_except_in_json(site: Site) -> None:
    entries = _entries(site)
    advice = ["Split pool edge: 3 shards for requests by 2026-03-20.", "Add | a pipe"]
    markdown = to_markdown(entries, NOW, advice)
    assert markdown.endswith(
        "\n### Advice\n\n- Split pool edge: 3 shards for requests by 2026-03-20.\n"
        "- Add \\| a pipe\n"
    )
    text = to_table(entries, NOW, advice, width=160)
    assert text.endswith(
        "\nAdvice:\n  - Split pool edge: 3 shards for requests by 2026-03-20.\n  - Add | a pipe"
    )
    assert "Advice" in to_table(entries, NOW, advice, width=80, colour=True)
    assert json.loads(to_json(entries, advice)) == json.loads(to_json(entries))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_table_fits_the_terminal_width(
    site: Site, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    code, wide, err = report(site)
    assert code == 0, err
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = report(site)
    assert code == 0, err
    assert_fits(out, width, wide)
    assert "\x1b[" not in out
    # The advice is whole, wrapped with a hanging indent under its dash.
    advice = out.split("\nAdvice:\n", 1)[1].splitlines()
    assert advice[0].startswith("  - ") and all(
        line.startswith(("  - ", "    ")) for line in advice
    )
    for paragraph in wide.split("\nAdvice:\n", 1)[1].split("\n  - "):
        assert " ".join(paragraph.removeprefix("  - ").split()) in " ".join(out.split())
    # Every series is still there, with its status, limit and use.
    for record in rows(site):
        assert str(record["limit"]) in out


@pytest.mark.parametrize("width", WIDTHS)
def test_the_coloured_table_fits_too(site: Site, width: int) -> None:
    entries = _entries(site)
    advice = ["Pool edge (http_json): add 2 shard accounts before 2026-03-14 14:17 UTC. " * 4]
    wide = to_table(entries, NOW, advice, width=1000, colour=True)
    assert_fits(to_table(entries, NOW, advice, width=width, colour=True), width, wide)


def test_narrow_terminals_drop_the_least_useful_columns_first(site: Site) -> None:
    entries = _entries(site)
    headers = {
        width: to_table(entries, NOW, width=width).splitlines()[0].split()
        for width in (80, 100, 120, 160)
    }
    assert "SOURCE" in headers[160] and "PROVIDER" in headers[160]
    assert "SOURCE" not in headers[120] and "USAGE" in headers[120]
    assert headers[80][:3] == ["STATUS", "ACCOUNT", "LIMIT"] and "USE%" in headers[80]
    for kept in (80, 100, 120):
        assert "LAST" not in headers[kept]


def test_bar_and_sparkline() -> None:
    assert bar(None, 4) == "    "
    assert bar(0.0, 4) == "░░░░"
    assert bar(0.5, 4) == "██░░"
    assert bar(0.53, 4) == "██▏░"
    assert bar(7.0, 4) == "████"
    assert sparkline([0, 5, 10], low=0, high=10) == "▁▅█"
    assert sparkline([None, 3.0, 3.0]) == " ▁▁"
    assert sparkline([2.0, 2.0], low=0.0, high=2.0) == "██"
    assert sparkline([]) == ""


def _read_pty(master: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(10)
    return b"".join(chunks)


@pytest.mark.slow
@pytest.mark.parametrize("no_color", [False, True])
def test_a_real_terminal_gets_colour_unless_no_color(site: Site, no_color: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "QUOTA_WATCH_CONFIG")}
    env["TERM"] = "xterm-256color"
    env["COLUMNS"] = "220"
    if no_color:
        env["NO_COLOR"] = "1"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "quota_watch", "report", "-c", str(site.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        output = _read_pty(master, proc).decode()
    finally:
        os.close(master)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert "bucket_ops[logs]" in output
    assert ("\x1b[" in output) is not no_color


def _silence(matchers: dict[str, str], starts: datetime, ends: datetime) -> Silence:
    return Silence(None, matchers, starts, ends, "maintenance", "ops", starts)


async def _add_silences(site: Site, silences: list[Silence], alerts: list[AlertState]) -> None:
    store = await Store.open(site.store_url)
    try:
        for silence in silences:
            await store.add_silence(silence)
        if alerts:
            await store.save_alerts(alerts, [])
    finally:
        await store.close()


def test_silenced_rows_are_marked_in_every_format(site: Site) -> None:
    hour = timedelta(hours=1)
    silences = [
        _silence({"account": "gh"}, NOW - hour, NOW + hour),  # in force
        _silence({"account": "old"}, NOW - 3 * hour, NOW - hour),  # over
        _silence({"account": "free"}, NOW + hour, NOW + 3 * hour),  # not yet
        # An alert's silence marks the series of a matching open alert.
        _silence({"alertname": "QuotaAlmostFull", "account": "cf-spare"}, NOW - hour, NOW + hour),
    ]
    alert = make_alert(
        NOW,
        provider="http_json",
        account="cf-spare",
        group="edge",
        limit="storage",
        alertname="QuotaAlmostFull",
        severity="warning",
    )
    asyncio.run(_add_silences(site, silences, [alert]))
    data = rows(site)
    silenced = {(r["account"], r["limit"]) for r in data if r["silenced"] is True}
    assert silenced == {("gh", "build_time"), ("cf-spare", "storage")}
    assert all(r["silenced"] is False for r in data if (r["account"], r["limit"]) not in silenced)
    code, table, _ = report(site)
    assert code == 0
    marked = [line.split()[:2] for line in table.splitlines() if "(silenced)" in line]
    # cf-spare's storage is warning now: its open alert counts (silenced, it is still shown).
    assert sorted(marked) == [["ok", "(silenced)"], ["warning", "(silenced)"]]
    code, markdown, _ = report(site, "-f", "markdown")
    assert markdown.count("🟢 ok (silenced) |") == 1
    assert markdown.count("🟠 warning (silenced) |") == 1
    code, text, _ = report(site, "-f", "csv")
    table_rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["account"] for r in table_rows if r["silenced"] == "true") == [
        "cf-spare",
        "gh",
    ]
