"""The prometheus collector against Debian's real Prometheus scraping a loopback exporter.

The exporter serves known values; once Prometheus (requiring basic auth) has scraped them, the
collector (directly, and through `quota-watch collect --once` with `password_file`) must read
exactly those values, and the server's own refusals and error bodies must come back as the
documented typed errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from quota_watch_collectors.prometheus.collector import PrometheusCollector
from quota_watch_collectors.prometheus.options import PrometheusOptions

from quota_watch.sdk import AuthError, CollectContext, NoData, Reading, UnexpectedResponse
from tests.support.daemon_proc import isolated_env
from tests.support.prometheus_server import Prometheus, TextExporter

pytestmark = pytest.mark.slow

EXPOSITION = """\
# HELP demo_bucket_bytes Bytes stored per bucket.
# TYPE demo_bucket_bytes gauge
demo_bucket_bytes{bucket="images"} 123456789
demo_bucket_bytes{bucket="logs"} 2500000
# HELP demo_bucket_quota_bytes The storage quota, shared by every bucket.
# TYPE demo_bucket_quota_bytes gauge
demo_bucket_quota_bytes 1e+09
# HELP demo_builds_total Builds this month.
# TYPE demo_builds_total counter
demo_builds_total 42
"""

LIMITS: dict[str, Any] = {
    "bucket_storage": {
        "title": "Bucket storage",
        "unit": "bytes",
        "measure": "level",
        "query": 'demo_bucket_bytes{job="exporter"}',
        "cap_query": 'max(demo_bucket_quota_bytes{job="exporter"})',
        "resource_label": "bucket",
    },
    "builds": {
        "title": "Builds",
        "unit": "count",
        "measure": "cumulative",
        "period": "calendar_month",
        "cap": 300,
        "query": 'scalar(demo_builds_total{job="exporter"})',
    },
    "not_exported": {
        "title": "A series nobody exports",
        "unit": "count",
        "measure": "level",
        "query": "demo_missing_total",
    },
}
EXPECTED = {
    ("bucket_storage", "images"): (123456789.0, 1e9),
    ("bucket_storage", "logs"): (2500000.0, 1e9),
    ("builds", None): (42.0, None),
}
TIMEOUT = 60.0
USER, PASSWORD = "quota-watch", "e2e-basic-auth-password"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """One server for the module: starting Prometheus is the slow part."""
    with TextExporter(EXPOSITION) as exporter:
        data = tmp_path_factory.mktemp("prometheus")
        server = Prometheus(
            data, exporter.target, [], job_name="exporter", basic_auth=(USER, PASSWORD)
        )
        try:
            server.wait_ready()
            deadline = time.monotonic() + TIMEOUT
            while not server.query('demo_builds_total{job="exporter"}'):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the exporter was never scraped:\n{server.log()}")
                time.sleep(0.25)
            yield server
        finally:
            server.close()


def options(url: str, limits: dict[str, Any], password: str) -> PrometheusOptions:
    raw = {"api_base": url, "username": USER, "password": password, "limits": limits}
    return PrometheusOptions.model_validate(raw)


async def collect(url: str, limits: dict[str, Any], password: str = PASSWORD) -> list[Reading]:
    async with httpx.AsyncClient(timeout=10) as client:
        collector = PrometheusCollector(options(url, limits, password), client)
        ctx = CollectContext(account="e2e", now=datetime.now(UTC), periods={})
        return await collector.collect(ctx)


async def test_reads_the_exported_values(prometheus: Prometheus) -> None:
    readings = await collect(prometheus.url, LIMITS)
    got = {(r.limit, r.resource): (r.value, r.cap) for r in readings}
    assert got == EXPECTED


async def test_a_wrong_password_is_an_auth_error(prometheus: Prometheus) -> None:
    with pytest.raises(AuthError, match="HTTP 401"):
        await collect(prometheus.url, LIMITS, password="not-the-password")


async def test_a_syntax_error_is_the_servers_bad_data(prometheus: Prometheus) -> None:
    broken = {"x": {**LIMITS["builds"], "query": "sum(demo_builds_total"}}
    with pytest.raises(UnexpectedResponse, match="bad_data"):
        await collect(prometheus.url, broken)


async def test_only_empty_results_are_no_data(prometheus: Prometheus) -> None:
    with pytest.raises(NoData):
        await collect(prometheus.url, {"not_exported": LIMITS["not_exported"]})


async def test_several_series_without_resource_label_are_refused(prometheus: Prometheus) -> None:
    unlabelled = {"x": {**LIMITS["bucket_storage"]}}
    del unlabelled["x"]["resource_label"], unlabelled["x"]["cap_query"]
    with pytest.raises(UnexpectedResponse, match="returned 2 series"):
        await collect(prometheus.url, unlabelled)


def test_collect_once_through_the_cli(prometheus: Prometheus, tmp_path: Path) -> None:
    secret = tmp_path / "prometheus-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'qw.db'}"},
        "accounts": [
            {
                "name": "metrics",
                "collector": "prometheus",
                "options": {
                    "api_base": prometheus.url,
                    "username": USER,
                    "password_file": str(secret),
                    "limits": LIMITS,
                },
            }
        ],
    }
    path = tmp_path / "quota-watch.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", "collect", "--once", "-c", str(path), "-f", "json"],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)
    got = {(r["limit"], r["resource"]): (r["value"], r["cap"]) for r in rows}
    # builds has no cap from the API: the declared cap (300) is the one stored
    assert got == {**EXPECTED, ("builds", None): (42.0, 300.0)}
