"""`quota-watch history`: one series by day from the rollups and raw samples, as a table or
CSV; unknown names are errors that list the known ones."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.reporting import command
from tests.support import report_site
from tests.support.report_site import NOW, Site, assert_snapshot, poll_times, value_at
from tests.support.widths import WIDTHS, assert_fits

runner = CliRunner()

site_template = report_site.site_template  # the fixtures, shared
site = report_site.site


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "utcnow", lambda: NOW)
    monkeypatch.setenv("COLUMNS", "160")  # the snapshot's width


def history(site: Site, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["history", "-c", str(site.config_path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_snapshot(site: Site) -> None:
    code, out, err = history(site, "--account", "cf-main", "--limit", "requests", "--days", "5")
    assert code == 0, err
    assert_snapshot("history.txt", out)


@pytest.mark.parametrize("width", WIDTHS)
def test_table_fits_the_terminal_width(
    site: Site, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--account", "gh", "--limit", "build_time", "--days", "5")
    monkeypatch.setenv("COLUMNS", "1000")
    code, wide, err = history(site, *args)
    assert code == 0, err
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = history(site, *args)
    assert code == 0, err
    assert_fits(out, width, wide)
    assert "of 2,000 minutes" in out  # the limit's display unit, not "1.39 d"


def test_csv_snapshot(site: Site) -> None:
    code, out, err = history(
        site, "-a", "cf-main", "-l", "bucket_ops", "-r", "logs", "-d", "2", "-f", "csv"
    )
    assert code == 0, err
    assert_snapshot("history.csv", out)


def test_days_hold_what_was_polled(site: Site) -> None:
    code, out, _ = history(site, "-a", "cf-main", "-l", "requests", "-d", "4")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("http_json / cf-main / requests: 84k of 100k")
    days = {line.split()[0]: line.split()[1:5] for line in lines[4:]}
    assert list(days) == ["2026-03-11", "2026-03-12", "2026-03-13", "2026-03-14"]
    # earlier days: polls at 00, 06, 12, 18 h (the last at 18:00 is the day's max), and the
    # last 3 hours of the 13th... are in the 14th: every 15 min from 09:00 to noon
    assert days["2026-03-12"] == ["0", "126k", "126k", "4"]
    today = [t for t in poll_times() if t.date() == NOW.date()]
    assert days["2026-03-14"] == ["0", "84k", "84k", str(len(today))]


def test_csv_is_every_stored_row(site: Site) -> None:
    code, out, _ = history(site, "-a", "gh", "-l", "build_time", "-d", "3", "-f", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    kinds = {r["granularity"] for r in rows}
    assert kinds <= {"day", "hour", "sample"} and {"day", "hour"} <= kinds
    first = NOW.replace(hour=0) - timedelta(days=2)
    for row in rows:
        start = datetime.fromisoformat(row["start"].replace("Z", "+00:00"))
        assert start >= first
        if row["granularity"] == "sample":
            assert row["min"] == row["max"] == row["last"] and row["count"] == "1"
            assert float(row["last"]) == value_at("gh", "build_time", start)
    hourly_counts = sum(int(r["count"]) for r in rows if r["granularity"] == "hour")
    samples = sum(1 for r in rows if r["granularity"] == "sample")
    assert hourly_counts + samples == sum(1 for t in poll_times() if t >= first)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-a", "nope", "-l", "requests"],
            "--account: no stored series for 'nope' "
            "(accounts with history: cf-main, cf-spare, free, gh, old)",
        ),
        (
            ["-a", "gh", "-l", "requests"],
            "--limit: 'gh' has no limit 'requests' (its limits: build_time)",
        ),
        (
            ["-a", "cf-main", "-l", "bucket_ops"],
            "--resource: cf-main/bucket_ops is per resource; choose one of: logs, media",
        ),
        (
            ["-a", "cf-main", "-l", "bucket_ops", "-r", "x"],
            "--resource: cf-main/bucket_ops has no resource 'x' (its resources: logs, media)",
        ),
        (
            ["-a", "gh", "-l", "build_time", "-r", "x"],
            "(its resources: none: leave --resource out)",
        ),
    ],
)
def test_unknown_names_exit_2_listing_the_known_ones(
    site: Site, args: list[str], message: str
) -> None:
    code, out, err = history(site, *args)
    assert code == 2
    assert message in err and out == "" and "Traceback" not in err


def test_bad_days_and_missing_options_exit_2(site: Site) -> None:
    assert history(site, "-a", "gh", "-l", "build_time", "--days", "0")[0] == 2
    assert history(site, "-a", "gh")[0] == 2
