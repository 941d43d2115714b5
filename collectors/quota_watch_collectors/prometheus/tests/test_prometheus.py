"""The prometheus collector's cases, option validation, and what its requests carry."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from quota_watch_collectors.prometheus.collector import PrometheusCollector
from quota_watch_collectors.prometheus.options import PrometheusOptions

from quota_watch.sdk import CollectContext, NoData, Reading, Scope, UnexpectedResponse
from quota_watch.testing import FakeProvider, Route, iter_cases, run_case

HERE = Path(__file__).parent


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(PrometheusCollector, case_dir)


@pytest.mark.parametrize("case_name", ["ok_per_resource", "auth_error", "bad_query"])
async def test_case_over_a_real_socket(case_name: str) -> None:
    await run_case(PrometheusCollector, HERE / "cases" / case_name, over_http=True)


async def test_basic_auth_and_the_evaluation_time_are_sent() -> None:
    result = await run_case(PrometheusCollector, HERE / "cases" / "ok_per_resource")
    request = result.requests[0]
    assert request.query["time"] == "1796292000.000"
    expected = base64.b64encode(b"quota-watch:fake-basic-auth-password-0123").decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_bearer_token_is_sent() -> None:
    result = await run_case(PrometheusCollector, HERE / "cases" / "ok_grafana_cloud")
    token = "glsa_fake-service-account-token-0123456789"
    assert {r.headers["authorization"] for r in result.requests} == {f"Bearer {token}"}


async def test_the_api_error_text_reaches_the_message() -> None:
    result = await run_case(PrometheusCollector, HERE / "cases" / "bad_query")
    assert "bad_data" in str(result.error)
    assert "parse error" in str(result.error)


def limit(**extra: Any) -> dict[str, Any]:
    return {"title": "Series", "unit": "count", "measure": "level", **extra}


def options(**limits: dict[str, Any]) -> PrometheusOptions:
    return PrometheusOptions.model_validate({"api_base": "http://127.0.0.1:9090", "limits": limits})


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (limit(), "exactly one of query"),
        (limit(query="up", value=1), "exactly one of query"),
        (limit(query="up", cap=5, cap_query="x"), "at most one of cap_query"),
        (limit(value=1, resource_label="job"), "resource_label needs query"),
        (limit(query="up", resource_label="not a label"), "not a Prometheus label name"),
        (limit(query="up", scope="resource"), "needs resource_label"),
        (limit(query="   "), "empty PromQL"),
    ],
)
def test_invalid_limits_are_refused(declared: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        options(x=declared)


def test_resource_label_makes_the_limit_per_resource() -> None:
    declared = options(x=limit(query="up", resource_label="job")).limits["x"]
    assert declared.scope is Scope.RESOURCE


def test_a_constant_value_takes_a_quantity() -> None:
    declared = options(x=limit(unit="bytes", value="2 GB")).limits["x"]
    assert declared.value == 2e9


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"username": "u"}, "needs both username and password"),
        (
            {"username": "u", "password": "pw-123456", "bearer_token": "tok-123456"},
            "either username/password or bearer_token",
        ),
        ({"api_base": "ftp://x"}, "must be an http.s. URL with a host"),
        ({"api_base": "https://u:p@x.example"}, "credentials have their own options"),
    ],
)
def test_invalid_auth_and_api_base_are_refused(extra: dict[str, Any], message: str) -> None:
    raw = {"api_base": "http://127.0.0.1:9090", "limits": {"x": limit(query="up")}, **extra}
    with pytest.raises(ValidationError, match=message):
        PrometheusOptions.model_validate(raw)


def test_secrets_stay_out_of_the_repr() -> None:
    raw = {
        "api_base": "http://127.0.0.1:9090",
        "bearer_token": "tok-very-secret-123",
        "limits": {"x": limit(query="up")},
    }
    assert "tok-very-secret-123" not in repr(PrometheusOptions.model_validate(raw))


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"n": str(i)}, "value": [1796292000, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


async def collect_once(body: dict[str, Any], **declared: Any) -> list[Reading]:
    provider = FakeProvider([Route("GET", "/api/v1/query", body=body)])
    async with provider.client() as client:
        collector = PrometheusCollector(options(x=limit(query="q", **declared)), client)
        ctx = CollectContext(account="t", now=datetime(2026, 12, 3, tzinfo=UTC), periods={})
        return await collector.collect(ctx)


@pytest.mark.parametrize(
    ("body", "declared", "message"),
    [
        (vector("1e308"), {"scale": 10}, "overflows when scaled"),
        (vector("+Inf"), {}, "expected a finite number >= 0"),
        (vector("-3"), {}, "expected a finite number >= 0"),
        (vector("many"), {}, "not a number"),
        (vector("1", "2"), {"resource_label": "job"}, "without the label 'job'"),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            {},
            "max_over_time",
        ),
        ({"status": "success", "data": {"resultType": "vector", "result": [{}]}}, {}, "malformed"),
    ],
)
async def test_results_that_are_not_a_usage_figure(
    body: dict[str, Any], declared: dict[str, Any], message: str
) -> None:
    with pytest.raises(UnexpectedResponse, match=message):
        await collect_once(body, **declared)


async def test_nan_alone_is_no_data() -> None:
    with pytest.raises(NoData):
        await collect_once(vector("NaN"))
