"""A real Prometheus scraping the real daemon: every dashboard query has data, the rules fire.

The emulator serves five http_json accounts (three of them a shard pool near its caps), the
Cloudflare emulator one account; the daemon polls them every second or two, and Debian's
/usr/bin/prometheus scrapes it every second with the committed rules/prometheus/*.yml plus the
same rules exported for this daemon's config (`quota-watch rules export -c`, whose `for:`
follows polling.interval = 1s).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from quota_watch_collectors.cloudflare.emulator import (
    CloudflareAccount,
    CloudflareEmulator,
    Rate,
)

from quota_watch.sdk import Measure, Unit
from quota_watch.testing.emulator import EmulatedAccount, EmulatedLimit, Emulator
from tests.support import waiting
from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env
from tests.support.prometheus_server import Prometheus, prometheus_binary
from tests.support.promtool import check_metrics

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "rules" / "prometheus").glob("*.yml"))
#: Grafana's template variables: every dashboard variable is used inside =~"..." matchers.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
POOL = "edge"
QUOTA_WATCH = (sys.executable, "-m", "quota_watch")
TIMEOUT = 30.0


def substitute(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced: ours by .*, built-ins by a value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return GRAFANA_BUILTINS.get(name, ".*")

    return _VARIABLE.sub(value, expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, query) of every panel target of the committed dashboards."""
    out: list[tuple[str, str, str]] = []
    for path in DASHBOARDS:
        document = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(document.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out.append((path.name, str(panel.get("title")), target["expr"]))
    return out


def variable_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, variable, selector, label) of every label_values(selector, label) variable."""
    out: list[tuple[str, str, str, str]] = []
    for path in DASHBOARDS:
        document = json.loads(path.read_text(encoding="utf-8"))
        for var in document.get("templating", {}).get("list", []):
            query = var.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            found = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", str(text or "").strip())
            if var.get("type") == "query" and found:
                out.append((path.name, var["name"], found.group(1), found.group(2)))
    return out


def accounts() -> list[EmulatedAccount]:
    """Three pool members near their caps (QuotaAlmostFull) and two quieter accounts."""
    out: list[EmulatedAccount] = []
    for index, load in enumerate((0.86, 0.88, 0.9, 0.55, 0.6), start=1):
        # every unit and kind the dashboards split by: counts, bytes, seconds; a period or a
        # level; a per-resource limit. Growth is fast enough for a trend within seconds.
        limits = {
            "requests": EmulatedLimit(
                start_value=100_000 * load, growth_per_hour=36_000, cap=100_000
            ),
            "storage": EmulatedLimit(
                start_value=500e6 * load,
                growth_per_hour=36e6,
                cap=500e6,
                unit=Unit.BYTES,
                measure=Measure.LEVEL,
                period="none",
            ),
            "build_time": EmulatedLimit(
                start_value=18_000 * load,
                growth_per_hour=3_600,
                cap=18_000,
                unit=Unit.SECONDS,
                period="calendar_month",
            ),
            "worker_requests": EmulatedLimit(
                start_value=50_000 * load,
                growth_per_hour=18_000,
                cap=50_000,
                resources=["api", "web"],
            ),
        }
        out.append(EmulatedAccount(f"acct-{index}", f"e2e-token-{index}", limits))
    return out


def daemon_config(
    emulator: Emulator, cloudflare: CloudflareEmulator, tmp_path: Path, port: int
) -> Path:
    """The daemon's config: every account every second, the first three in the pool; plus a
    Cloudflare account (its collector reports the API's rate limit, http_json does not)."""
    document = tomllib.loads(
        emulator.config_toml(
            interval="1s",
            store_url=f"sqlite:///{tmp_path / 'qw.db'}",
            listen=f"127.0.0.1:{port}",
        )
    )
    document["polling"] = {"interval": "1s", "jitter": 0.0}
    # Seconds of 1s polls, not the hours of history a forecast needs by default (min_span).
    document["rules"] = [{"forecast_min_span": "2s"}]
    for entry in document["accounts"][:3]:
        entry["group"] = POOL
    document["accounts"].append(
        {
            "name": "cf-main",
            "collector": "cloudflare",
            "interval": "2s",  # the emulated GraphQL budget is 300 requests per 5 minutes
            "options": cloudflare.collector_options("cf-main"),
        }
    )
    path = tmp_path / "quota-watch.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def export_rules(config: Path, tmp_path: Path) -> Path:
    """`quota-watch rules export` for `config`: the rule pack with for: scaled to its 1s polls."""
    directory = tmp_path / "rules-1s"
    proc = subprocess.run(
        [*QUOTA_WATCH, "rules", "export", "-c", str(config), "-o", str(directory)],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = directory.glob("*.yml")
    # The same alert names in a second group: Prometheus keeps both, told apart by `group`.
    text = path.read_text(encoding="utf-8").replace("- name: quota-watch\n", "- name: qw-1s\n")
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(what: str, check: Any, diagnostics: Any) -> None:
    """Poll check() until it is true, or fail naming `what` with diagnostics()."""
    waiting.wait_until(check, TIMEOUT, what, diagnostics)


def test_dashboards_and_rules_against_a_real_prometheus(tmp_path: Path) -> None:
    binary = prometheus_binary()
    assert binary
    assert DASHBOARDS, "no dashboards/*.json committed"
    assert RULE_FILES, "no rules/prometheus/*.yml committed"
    cf_account = CloudflareAccount(
        "cf-main", "0123456789abcdef0123456789abcdef", "cf-e2e-token", workers=Rate(36_000)
    )
    with Emulator(accounts(), seed=1) as emulator, CloudflareEmulator([cf_account]) as cloudflare:
        port = free_port()
        config = daemon_config(emulator, cloudflare, tmp_path, port)
        short_rules = export_rules(config, tmp_path)
        with DaemonProcess(tmp_path, port, config) as daemon:
            prometheus = Prometheus(tmp_path, f"127.0.0.1:{port}", [*RULE_FILES, short_rules])
            try:
                prometheus.wait_ready()
                _check(prometheus, daemon)
            finally:
                prometheus.close()
            assert daemon.stop() == 0, daemon.log()
            assert "Traceback" not in daemon.log()


def _firing(prometheus: Prometheus, alertname: str) -> list[dict[str, Any]]:
    return [
        a
        for a in prometheus.api("alerts")["alerts"]
        if a["labels"]["alertname"] == alertname and a["state"] == "firing"
    ]


def _check(prometheus: Prometheus, daemon: DaemonProcess) -> None:
    def diagnostics() -> str:
        targets = prometheus.api("targets")["activeTargets"]
        return (
            f"targets: {targets}\n--- prometheus:\n{prometheus.log()}\n--- daemon:\n"
            + (daemon.log()[-4000:])
        )

    # Two scrapes at least, and the slowest families there: forecasts need 4 polls, pools a plan.
    wait_until(
        "two scrapes of the daemon",
        lambda: prometheus.query('count_over_time(up{job="quota-watch"}[1m]) >= 2'),
        diagnostics,
    )
    for needed in (
        "quota_watch_forecast_exhaustion_timestamp_seconds",
        "quota_watch_pool_shards_recommended",
    ):
        wait_until(needed, lambda n=needed: prometheus.query(n), diagnostics)
    assert prometheus.query('up{job="quota-watch"} == 1'), diagnostics()
    scrape = daemon.get("/metrics")  # every family present now: pools, rate limits, forecasts
    assert scrape is not None and scrape.status_code == 200
    assert check_metrics(scrape.content) == ""

    # Every rule file loaded, every rule evaluated without error.
    groups = prometheus.api("rules")["groups"]
    loaded = {Path(g["file"]).name for g in groups}
    assert {p.name for p in RULE_FILES} <= loaded, loaded
    broken = [
        (g["file"], r["name"], r.get("lastError"))
        for g in groups
        for r in g["rules"]
        if r.get("health") not in ("ok", "unknown") or r.get("lastError")
    ]
    assert not broken, broken

    # The pool is at 86-90 % of its caps: QuotaAlmostFull fires (1s polls: for: 1s).
    wait_until(
        "QuotaAlmostFull firing",
        lambda: _firing(prometheus, "QuotaAlmostFull"),
        lambda: json.dumps(prometheus.api("alerts"), indent=1),
    )
    firing = _firing(prometheus, "QuotaAlmostFull")
    assert {a["labels"]["account"] for a in firing} == {"acct-1", "acct-2", "acct-3"}
    assert {a["labels"]["limit"] for a in firing} >= {"requests", "storage", "build_time"}
    # ... and the committed rule (for: 5m, pending for now) matches the same series.
    committed = {
        alert["labels"]["account"]
        for group in prometheus.api("rules")["groups"]
        if Path(group["file"]).parent == RULE_FILES[0].parent
        for rule in group["rules"]
        if rule["name"] == "QuotaAlmostFull"
        for alert in rule.get("alerts", [])
    }
    assert committed == {"acct-1", "acct-2", "acct-3"}, committed

    # Every dashboard query returns data.
    empty = [
        f"{board} / {title}: {substitute(expr)}"
        for board, title, expr in dashboard_queries()
        if not prometheus.query(substitute(expr))
    ]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
    for board, name, selector, label in variable_queries():
        values = prometheus.api(f"label/{label}/values", **{"match[]": substitute(selector)})
        assert values, f"{board}: variable {name} has no values ({selector}, {label})"


def test_a_missing_prometheus_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("QUOTA_WATCH_REQUIRE_PROMTOOL", "1")
    with pytest.raises(pytest.fail.Exception, match="QUOTA_WATCH_REQUIRE_PROMTOOL"):
        prometheus_binary()


def test_grafana_variables_are_substituted() -> None:
    expr = 'increase(x{a=~"$account", l=~"${limit}"}[$__rate_interval]) / $__range'
    assert substitute(expr) == 'increase(x{a=~".*", l=~".*"}[1m]) / 1h'
