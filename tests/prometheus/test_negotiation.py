"""/metrics negotiation: OpenMetrics by Accept (parsed by prometheus-client's OpenMetrics
parser), gzip by Accept-Encoding, the text format otherwise (promtool-clean)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from quota_watch.daemon.selfstats import process_stats
from quota_watch.daemon.server import create_app
from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    HeartbeatFacts,
    PoolFacts,
    PoolLimitFacts,
    Snapshot,
    render,
)
from quota_watch.prometheus.negotiate import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    wants_gzip,
    wants_openmetrics,
)
from quota_watch.store.models import StoredReading
from quota_watch.testing.emulator import Emulator, demo_accounts
from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.promtool import check_metrics

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
#: What Prometheus 2.x/3.x sends when scraping.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def snapshot() -> Snapshot:
    reading = StoredReading(
        provider="host",
        account="vm",
        limit="disk_used",
        resource='/mnt/"odd"',
        unit="bytes",
        measure="level",
        value=40e9,
        cap=100e9,
        cap_source="api",
        period_start=None,
        period_end=None,
        ts=NOW,
    )
    status = AccountStatus(
        provider="host",
        account="vm",
        last_run_at=NOW,
        last_success_at=NOW,
        last_outcome="success",
        last_error=None,
        last_duration_seconds=0.01,
        runs_total=3,
        failures_total=1,
        consecutive_failures=0,
    )
    return Snapshot(
        readings=[reading],
        statuses=[status],
        accounts=[AccountFacts("host", "vm", "pool", 60.0)],
        alerts_firing={"critical": 1},
        forecasts={("vm", "disk_used", '/mnt/"odd"'): ForecastFacts(0.9, NOW)},
        notifications_sent={"ops": 3},
        notifications_failed={"ops": 1},
        outbox_depth={"ops": 2},
        heartbeat=HeartbeatFacts(NOW, 2),
        process=process_stats(),
        pools=[PoolFacts("host", "pool", 1, [PoolLimitFacts("disk_used", 0.4, 0.5, 1)])],
    )


def openmetrics_families(body: str) -> list[Metric]:
    """Parse `body` with prometheus-client's OpenMetrics parser (strict: raises on bad input)."""
    return list(text_string_to_metric_families(body))  # type: ignore[no-untyped-call]


def samples_of(families: object) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in families  # type: ignore[attr-defined]
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        (PROMETHEUS_ACCEPT, True),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text;q=0.2,text/plain;q=0.5", False),
        ("application/openmetrics-text;q=0", False),
    ],
)
def test_accept_chooses_the_format(accept: str | None, expected: bool) -> None:
    assert wants_openmetrics(accept) is expected


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        (None, False),
        ("identity", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
    ],
)
def test_accept_encoding_chooses_gzip(encoding: str | None, expected: bool) -> None:
    assert wants_gzip(encoding) is expected


def test_openmetrics_carries_the_same_samples_as_the_text_format() -> None:
    snap = snapshot()
    text = render(snap).decode()
    openmetrics = render(snap, openmetrics=True).decode()
    assert openmetrics.endswith("# EOF\n")
    assert "# TYPE quota_watch_collector_runs counter" in openmetrics
    parsed = list(openmetrics_families(openmetrics))
    assert samples_of(parsed) == samples_of(text_families(text))
    assert {f.name for f in parsed if f.type == "counter"} >= {
        "quota_watch_collector_runs",
        "quota_watch_notifications",
    }


async def test_endpoint_negotiates_format_and_compression() -> None:
    snap = snapshot()

    async def take() -> Snapshot:
        return snap

    transport = httpx.ASGITransport(app=create_app(take, lambda: None))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        scraped = await client.get(
            "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        )
    assert plain.headers["content-type"] == TEXT_CONTENT_TYPE
    assert "content-encoding" not in plain.headers
    assert check_metrics(plain.content) == ""

    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == OPENMETRICS_CONTENT_TYPE
    assert scraped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in scraped.headers["vary"]
    # httpx inflated the body; it must be the OpenMetrics rendering, byte for byte.
    assert scraped.content == render(snap, openmetrics=True)
    list(openmetrics_families(scraped.text))


@pytest.mark.slow
def test_daemon_sends_gzip_on_the_wire(tmp_path: Path) -> None:
    with Emulator(demo_accounts(2), seed=5) as emulator:
        config = tmp_path / "quota-watch.toml"
        config.write_text(
            emulator.config_toml(interval="1s", store_url=f"sqlite:///{tmp_path / 'qw.db'}")
        )
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_for('account="acct-02"')
            headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
            with httpx.stream("GET", daemon.url + "/metrics", headers=headers, timeout=10) as r:
                raw = b"".join(r.iter_raw())
                assert r.headers["content-encoding"] == "gzip"
            body = gzip.decompress(raw).decode()
            assert body.endswith("# EOF\n")
            names = {f.name for f in openmetrics_families(body)}
            assert "quota_watch_collector_runs" in names
            plain = httpx.get(daemon.url + "/metrics", headers={"Accept-Encoding": "identity"})
            assert "# EOF" not in plain.text
            assert check_metrics(plain.content) == ""
            assert daemon.stop() == 0, daemon.log()
