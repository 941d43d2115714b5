"""The shard-pool demo: config, history polled through the daemon's path, the pool's shape."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from quota_watch_collectors.cloudflare.emulator import CloudflareEmulator

from quota_watch.config.load import load_config
from quota_watch.store.facade import Store
from quota_watch.store.models import Point, StoredReading
from quota_watch.testing.demo import DEMO_PROFILES, demo_accounts, main
from quota_watch.testing.emulator import ManualClock

pytestmark = pytest.mark.slow  # runs the demo: an emulated provider on loopback

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 22, tzinfo=UTC)
CAP = 100_000.0


def _expected(name: str, at: datetime) -> float:
    """Requests so far today: the day's total times the share of a day growing g-fold."""
    profile = DEMO_PROFILES[name]
    g, total = profile.growth, profile.requests_per_day
    fraction = (at - MIDNIGHT).total_seconds() / 86400
    return float(math.floor(total * (g**fraction - 1) / (g - 1)))


def test_demo_builds_a_day_of_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "demo"
    code = main(["--dir", str(directory), "--now", "2026-11-22T03:00:00Z", "--step", "30m"])
    out, err = capsys.readouterr()
    assert code == 0, err
    config_path = directory / "demo.toml"
    assert f"quota-watch plan -c {config_path}" in out
    assert f"quota-watch report -c {config_path}" in out
    assert "workers requests" in err and "(0 failed)" in err

    config = load_config(config_path)
    assert [a.name for a in config.accounts] == ["cf-a", "cf-b", "cf-c"]
    assert {(a.collector, a.group) for a in config.accounts} == {("cloudflare", "edge")}
    assert config.store_url() == f"sqlite:///{(directory / 'demo.db').resolve()}"
    for account in config.accounts:
        assert account.options.api_base.startswith("http://127.0.0.1:")  # type: ignore[attr-defined]

    async def read() -> tuple[dict[str, list[Point]], list[StoredReading], dict[str, str]]:
        store = await Store.open(config.store_url(), readonly=True, migrate=False)
        try:
            series = {
                name: await store.samples(name, "workers_requests", None, MIDNIGHT)
                for name in DEMO_PROFILES
            }
            latest = [r for r in await store.latest() if r.limit == "workers_requests"]
            statuses = {s.account: s.last_outcome for s in await store.account_statuses()}
        finally:
            await store.close()
        return series, latest, statuses

    series, latest, statuses = asyncio.run(read())
    times = [MIDNIGHT + timedelta(minutes=30 * n) for n in range(7)]
    for name, points in series.items():
        assert [p.ts for p in points] == times
        assert [p.value for p in points] == [_expected(name, t) for t in times]
        assert {p.cap for p in points} == {CAP}
    utilization = {r.account: r.value / (r.cap or math.inf) for r in latest}
    assert set(utilization) == set(DEMO_PROFILES)
    assert max(utilization, key=utilization.__getitem__) == "cf-c"
    assert statuses == dict.fromkeys(DEMO_PROFILES, "success")


def test_the_pool_needs_a_fourth_shard_and_cf_c_runs_hot() -> None:
    clock = ManualClock(NOW)
    emulator = CloudflareEmulator(demo_accounts(NOW), clock=clock, epoch=MIDNIGHT)
    end_of_day = MIDNIGHT + timedelta(days=1) - timedelta(seconds=1)
    totals = {name: emulator.workers_requests(name, end_of_day) for name in DEMO_PROFILES}
    pool = sum(totals.values())
    assert 2.4 * CAP < pool < 2.6 * CAP
    assert math.ceil(pool / (CAP * 0.7)) == 4
    assert 1.1 * CAP < totals["cf-c"] < 1.3 * CAP
    assert all(totals[name] < 0.75 * CAP for name in ("cf-a", "cf-b"))


def test_demo_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "demo.db").write_bytes(b"not a demo store")
    assert main(["--dir", str(tmp_path), "--now", "2026-11-22T01:00:00Z"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "demo.db").read_bytes() == b"not a demo store"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "2026-11-22T03:00:00"], "no timezone"),
        (["--now", "tomorrow"], "ISO 8601"),
        (["--step", "10s"], "between 1m and 6h"),
        (["--hours", "-2"], "--hours"),
    ],
)
def test_bad_arguments_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--dir", str(tmp_path), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo.toml").exists()


def test_plan_on_the_demo_recommends_a_fourth_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5's acceptance: three Cloudflare shards growing toward the pool's capacity."""
    from typer.testing import CliRunner

    from quota_watch.cli.app import app
    from quota_watch.reporting import command

    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    directory = tmp_path / "demo"
    assert main(["--dir", str(directory), "--now", now.isoformat(), "--step", "30m"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(command, "utcnow", lambda: now)
    monkeypatch.setenv("COLUMNS", "1000")  # every column, each advice paragraph on one line
    config = str(directory / "demo.toml")
    result = CliRunner().invoke(app, ["plan", "-c", config])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Pool edge (cloudflare, 3 shards: cf-a, cf-b, cf-c) - needs 4 shards"
    assert lines[2].startswith("  * workers_requests")  # the binding limit comes first
    assert "cf-c (" in lines[2]
    (advice,) = [line for line in lines if line.startswith("  - Pool edge")]
    assert "add 1 shard account before 2026-11-22 " in advice
    assert "(3 -> 4)" in advice
    assert "Binding limit: Workers requests" in advice
    assert "Hot shard: cf-c." in advice

    document = CliRunner().invoke(app, ["plan", "-c", config, "-f", "json"])
    pool = json.loads(document.output)["pools"][0]
    assert (pool["shards"], pool["recommended"], pool["binding_limit"]) == (
        3,
        4,
        "workers_requests",
    )
    act_by = datetime.fromisoformat(pool["advice"]["act_by"])
    assert now < act_by < datetime(2026, 11, 23, tzinfo=UTC)

    report = CliRunner().invoke(app, ["report", "-c", config])
    assert report.exit_code == 0, report.output
    rows = report.output.splitlines()
    first = next(line for line in rows if "workers_requests" in line)
    assert first.split()[:5] == ["warning", "cloudflare", "cf-c", "edge", "workers_requests"]
    assert "Advice:" in rows
    assert any(line.startswith("  - Pool edge (cloudflare): add 1 shard account") for line in rows)
