"""The turso collector's cases, over the fake provider and a real socket, and its options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from quota_watch_collectors.turso.collector import TursoCollector
from quota_watch_collectors.turso.options import TursoOptions

from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
TOKEN = "fake-turso-platform-token-0123456789abcdef"


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(TursoCollector, case_dir)


@pytest.mark.parametrize("case_name", ["ok", "auth_error", "org_not_found", "rate_limited"])
async def test_case_over_a_real_socket(case_name: str) -> None:
    await run_case(TursoCollector, HERE / "cases" / case_name, over_http=True)


async def test_bearer_token_and_the_organization_paths() -> None:
    result = await run_case(TursoCollector, HERE / "cases" / "ok")
    assert {r.headers["authorization"] for r in result.requests} == {f"Bearer {TOKEN}"}
    assert [r.path for r in result.requests] == [
        "/v1/organizations/acme/usage",
        "/v1/organizations/acme/subscription",
        "/v1/organizations/acme/plans",
    ]


async def test_a_wrong_slug_names_the_option_and_hides_the_token() -> None:
    result = await run_case(TursoCollector, HERE / "cases" / "org_not_found")
    assert "check `organization`" in str(result.error)
    assert TOKEN not in str(result.error)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"organization": "Acme Corp"}, "not an organization slug"),
        ({"api_base": "ftp://x"}, "http"),
        ({"api_base": "https://api.turso.tech?x=1"}, "query string"),
    ],
)
def test_invalid_options_are_refused(extra: dict[str, object], message: str) -> None:
    raw = {"token": TOKEN, "organization": "acme", **extra}
    with pytest.raises(ValidationError, match=message):
        TursoOptions.model_validate(raw)
