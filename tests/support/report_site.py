"""A small monitored site for the report and history tests, written through the real Store.

Five http_json accounts (two in the pool "edge", one per-resource limit, one account whose
polls stopped three days ago, one limit without a cap) polled every 6 hours for 15 days and
every 15 minutes for the last 3 hours before NOW; the store's own rollup folds the hourly and
daily buckets, and the real Alerting evaluates each account's last poll, so the forecasts and
alert states are the ones the daemon would have stored (and flushed when it stops).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from quota_watch.collect.periods import current_period
from quota_watch.collect.poller import PollResult
from quota_watch.collect.runtime import AccountRuntime
from quota_watch.config.load import load_config
from quota_watch.config.settings import Config
from quota_watch.daemon.alerting import Alerting
from quota_watch.model import Outcome
from quota_watch.reporting.command import account_runtimes
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
"""The fixed clock: a Saturday noon, mid-month."""

SNAPSHOTS = Path(__file__).resolve().parents[1] / "reporting" / "snapshots"
UPDATE_ENV = "QUOTA_WATCH_UPDATE_SNAPSHOTS"

# name -> (declaration, value(ts, resource), resources)
LIMITS: dict[str, dict[str, Any]] = {
    "requests": {
        "title": "Requests per day",
        "unit": "count",
        "measure": "cumulative",
        "period": "daily",
        "cap": 100_000,
        "value": "requests",
    },
    "storage": {
        "title": "Stored bytes",
        "unit": "bytes",
        "measure": "level",
        "period": "none",
        "cap": "1 GB",
        "value": "storage",
    },
    "bucket_ops": {
        "title": "Bucket operations per month",
        "unit": "count",
        "measure": "cumulative",
        "period": "calendar_month",
        "cap": 1_000_000,
        "display_unit": "operations",
        "for_each": "buckets",
        "resource": "name",
        "value": "ops",
    },
    "build_time": {
        "title": "Build time per month",
        "unit": "seconds",
        "measure": "cumulative",
        "period": "calendar_month",
        "cap": "2000 min",
        "display_unit": "minutes",
        "value": "minutes",
    },
    "events": {
        "title": "Events stored",
        "unit": "count",
        "measure": "level",
        "period": "none",
        "value": "events",
    },
}
ACCOUNTS: dict[str, dict[str, Any]] = {
    "cf-main": {"group": "edge", "limits": ["requests", "storage", "bucket_ops"]},
    "cf-spare": {"group": "edge", "limits": ["requests", "storage"]},
    "gh": {"group": None, "limits": ["build_time"]},
    "old": {"group": None, "limits": ["requests"], "stopped": NOW - timedelta(days=3)},
    "free": {"group": None, "limits": ["events"]},
}
RESOURCES = {"cf-main": ("logs", "media")}
RATE = {"cf-main": 7_000.0, "cf-spare": 2_500.0, "old": 1_000.0}  # requests per hour


@dataclass(frozen=True)
class Site:
    """The site's config file and store URL."""

    config_path: Path
    store_url: str

    def config(self) -> Config:
        """The parsed config."""
        return load_config(self.config_path)


def value_at(account: str, limit: str, ts: datetime, resource: str | None = None) -> float:
    """The reading of `limit` at `ts`: deterministic, shaped to give every status."""
    spec = LIMITS[limit]
    period = current_period(_spec(limit).period, ts)
    hours = ((ts - period.start).total_seconds() / 3600) if period.start else 0.0
    days = (ts - (NOW - timedelta(days=16))).total_seconds() / 86400
    if limit == "requests":
        return RATE[account] * hours
    if limit == "storage":
        return (500e6 if account == "cf-main" else 200e6) + 10e6 * days
    if limit == "bucket_ops":
        share = 1.02 if resource == "logs" else 0.1
        assert period.start is not None  # a monthly limit: its period has a start
        return round(1_000_000 * share * hours / ((NOW - period.start).total_seconds() / 3600))
    if limit == "build_time":
        return 400.0 * hours / 3.0  # 133 s per hour: ~64 % of the cap by mid-month
    if limit == "events":
        return 1_234.0 + 10 * days
    raise AssertionError(spec)


def _spec(limit: str) -> Any:
    from quota_watch.sdk import LimitSpec

    decl = {k: v for k, v in LIMITS[limit].items() if k in ("title", "unit", "measure", "period")}
    return LimitSpec.model_validate(decl)


def poll_times(stopped: datetime | None = None) -> Iterator[datetime]:
    """Every 6 h for 15 days, then every 15 min for the last 3 h (up to `stopped`)."""
    end = stopped or NOW
    ts = NOW - timedelta(days=15)
    while ts < NOW - timedelta(hours=3):
        if ts <= end:
            yield ts
        ts += timedelta(hours=6)
    ts = NOW - timedelta(hours=3)
    while ts <= end:
        yield ts
        ts += timedelta(minutes=15)


def write_config(path: Path, store_url: str) -> None:
    """The site's config: one http_json account per entry of ACCOUNTS."""
    accounts = []
    for name, spec in ACCOUNTS.items():
        limits = {}
        for limit in spec["limits"]:
            decl = dict(LIMITS[limit])
            limits[limit] = decl
        entry: dict[str, Any] = {
            "name": name,
            "collector": "http_json",
            "interval": "15m",
            "options": {"url": "http://127.0.0.1:9/usage", "limits": limits},
        }
        if spec["group"]:
            entry["group"] = spec["group"]
        accounts.append(entry)
    path.write_text(tomli_w.dumps({"store": {"url": store_url}, "accounts": accounts}))


def readings(account: str, ts: datetime, runtime: AccountRuntime) -> list[StoredReading]:
    """What a poll of `account` at `ts` stores (caps resolved from the declarations)."""
    out = []
    for limit in ACCOUNTS[account]["limits"]:
        spec = runtime.limits[limit]
        period = current_period(spec.period, ts)
        for resource in RESOURCES.get(account, (None,)) if limit == "bucket_ops" else (None,):
            out.append(
                StoredReading(
                    provider="http_json",
                    account=account,
                    limit=limit,
                    resource=resource,
                    unit=spec.unit.value,
                    measure=spec.measure.value,
                    value=value_at(account, limit, ts, resource),
                    cap=spec.cap,
                    cap_source="catalogue" if spec.cap is not None else "none",
                    period_start=period.start,
                    period_end=period.end,
                    ts=ts,
                )
            )
    return out


async def build_site(directory: Path, store_url: str | None = None) -> Site:
    """Write the config and fill the store (a SQLite file in `directory` by default)."""
    url = store_url or f"sqlite:///{directory / 'site.db'}"
    config_path = directory / "site.toml"
    write_config(config_path, url)
    config = load_config(config_path)
    runtimes = account_runtimes(config, lambda _a: True)
    store = await Store.open(url)
    try:
        alerting = Alerting(store, config, lambda: NOW)
        for account, spec in ACCOUNTS.items():
            last: list[StoredReading] = []
            for ts in poll_times(spec.get("stopped")):
                last = readings(account, ts, runtimes[account])
                run = RunRecord(
                    "http_json", account, ts, ts + timedelta(seconds=1), "success", None, len(last)
                )
                await store.record_poll(run, last)
            if "stopped" not in spec:
                await alerting.after_poll(
                    runtimes[account], PollResult(account, Outcome.SUCCESS, tuple(last))
                )
        await alerting.flush_forecasts()  # as the daemon does when it stops
        await store.rollup(NOW)
    finally:
        await store.close()
    return Site(config_path, url)


def assert_snapshot(name: str, text: str) -> None:
    """`text` equals tests/reporting/snapshots/NAME (QUOTA_WATCH_UPDATE_SNAPSHOTS=1 writes it)."""
    path = SNAPSHOTS / name
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    assert path.exists(), f"no snapshot {path}: run with {UPDATE_ENV}=1 to write it"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, (
        f"output differs from {path} (rerun with {UPDATE_ENV}=1 if the change is intended)"
        f"\n--- expected\n{expected}\n--- got\n{text}"
    )


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site built once per test session (tests copy it: see `site`)."""
    directory = tmp_path_factory.mktemp("report-site")
    return asyncio.run(build_site(directory))


@pytest.fixture
def site(site_template: Site, tmp_path: Path) -> Site:
    """A private copy of the site: its config and SQLite file in `tmp_path`."""
    source = site_template.config_path.parent / "site.db"
    target = tmp_path / "site.db"
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):  # normally gone: the last close checkpoints the WAL
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    config_path = tmp_path / "site.toml"
    write_config(config_path, f"sqlite:///{target}")
    return Site(config_path, f"sqlite:///{target}")
