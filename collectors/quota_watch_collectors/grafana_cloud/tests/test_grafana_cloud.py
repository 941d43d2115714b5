"""The grafana_cloud collector's cases, over the fake provider and a real socket, and options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from quota_watch_collectors.grafana_cloud.collector import GrafanaCloudCollector
from quota_watch_collectors.grafana_cloud.options import GrafanaCloudOptions

from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
TOKEN = "glsa_fakeServiceAccountToken0123456789_abcdef01"


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(GrafanaCloudCollector, case_dir)


@pytest.mark.parametrize("case_name", ["ok", "no_traces", "auth_error", "rate_limited"])
async def test_case_over_a_real_socket(case_name: str) -> None:
    await run_case(GrafanaCloudCollector, HERE / "cases" / case_name, over_http=True)


async def test_every_query_goes_through_the_proxy_with_the_bearer_token() -> None:
    result = await run_case(GrafanaCloudCollector, HERE / "cases" / "ok")
    assert {r.headers["authorization"] for r in result.requests} == {f"Bearer {TOKEN}"}
    assert {r.path for r in result.requests} == {
        "/api/datasources/proxy/uid/grafanacloud-usage/api/v1/query"
    }
    # Four figures and four included amounts (the series cap once per series limit).
    assert len(result.requests) == 8
    assert {r.query["time"] for r in result.requests} == {"1796292000.000"}


async def test_the_token_never_reaches_an_error_message() -> None:
    result = await run_case(GrafanaCloudCollector, HERE / "cases" / "auth_error")
    assert TOKEN not in str(result.error)
    assert "HTTP 401" in str(result.error)


def test_the_proxy_url_follows_the_datasource_uid() -> None:
    options = GrafanaCloudOptions.model_validate(
        {"token": TOKEN, "api_base": "https://acme.grafana.net/", "datasource_uid": "usage-2"}
    )
    assert options.datasource_url == "https://acme.grafana.net/api/datasources/proxy/uid/usage-2"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"api_base": "ftp://acme"}, "must be an http.s. URL with a host"),
        ({"api_base": "https://u:p@acme.grafana.net"}, "user info"),
        ({"datasource_uid": "a/b"}, "not a data source uid"),
        ({"logs_query": "  "}, "empty PromQL"),
        ({"gigabyte": 0}, "greater than 0"),
    ],
)
def test_invalid_options_are_refused(extra: dict[str, object], message: str) -> None:
    raw = {"token": TOKEN, "api_base": "https://acme.grafana.net", **extra}
    with pytest.raises(ValidationError, match=message):
        GrafanaCloudOptions.model_validate(raw)


def test_the_token_stays_out_of_the_repr() -> None:
    options = GrafanaCloudOptions.model_validate(
        {"token": TOKEN, "api_base": "https://acme.grafana.net"}
    )
    assert TOKEN not in repr(options)
