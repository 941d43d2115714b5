"""Unit tests of the aws collector: recorded cases, SigV4 on the wire, credentials, options."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.aws.client import EXTRA_HINT, MissingExtra
from quota_watch_collectors.aws.collector import AwsCollector
from quota_watch_collectors.aws.options import CN_API_BASE, DEFAULT_API_BASE, AwsOptions
from quota_watch_collectors.aws.tests.support import (
    KEY_ID,
    SECRET,
    TOKEN,
    collect,
    ctx,
    ok,
    options,
    plan_body,
    usage_row,
    verify_sigv4,
)

from quota_watch.sdk import AuthError, UnexpectedResponse
from quota_watch.testing import FakeProvider, Route, iter_cases, run_case
from quota_watch.testing.loopback import LoopbackProvider, point_at

# --- cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", iter_cases(Path(__file__).parent), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(AwsCollector, case_dir)


async def test_requests_are_aws_json_and_sigv4_signed() -> None:
    _, provider, _ = await collect(
        [ok({"freeTierUsages": [usage_row()]}), ok(plan_body())], page_size=500
    )
    usage, plan = provider.requests
    for request, operation in ((usage, "GetFreeTierUsage"), (plan, "GetAccountPlanState")):
        assert request.method == "POST"
        assert request.path == "/"
        assert request.headers["x-amz-target"] == f"AWSFreeTierService.{operation}"
        assert request.headers["content-type"] == "application/x-amz-json-1.0"
        parts = verify_sigv4(request, host="freetier.us-east-1.api.aws")
        assert parts == {
            "key_id": KEY_ID,
            "region": "us-east-1",
            "service": "freetier",
            "signed": "content-type;host;x-amz-date;x-amz-target",
        }
    assert usage.json == {"maxResults": 500}
    assert plan.json == {}


async def test_signature_verifies_over_a_real_socket() -> None:
    """httpx's Host header (with the port) must be the host botocore signed."""
    provider = FakeProvider([ok({"freeTierUsages": [usage_row()]}), ok(plan_body())])
    raw = {"access_key_id": KEY_ID, "secret_access_key": SECRET}
    with LoopbackProvider(provider) as server:
        pointed = point_at(AwsOptions, raw, server.base_url)
        assert isinstance(pointed, AwsOptions)
        async with httpx.AsyncClient(timeout=10) as client:
            await AwsCollector(pointed, client).collect(ctx())
        host = server.base_url.removeprefix("http://")
    assert len(provider.requests) == 2
    for request in provider.requests:
        verify_sigv4(request, host=host)


async def test_session_token_is_sent_and_signed() -> None:
    _, provider, _ = await collect([ok({"freeTierUsages": [usage_row()]})], account_plan=False)
    assert "x-amz-security-token" not in provider.requests[0].headers
    _, provider, _ = await collect(
        [ok({"freeTierUsages": [usage_row()]})], account_plan=False, session_token=TOKEN
    )
    request = provider.requests[0]
    assert request.headers["x-amz-security-token"] == TOKEN
    assert (
        "x-amz-security-token" in verify_sigv4(request, host="freetier.us-east-1.api.aws")["signed"]
    )


async def test_pagination_sends_next_token() -> None:
    routes = [
        ok({"freeTierUsages": [usage_row()], "nextToken": "tok-2"}),
        ok({"freeTierUsages": [usage_row(usageType="Catalog-Storage")], "nextToken": "tok-3"}),
        ok({"freeTierUsages": [usage_row(usageType="Other")], "nextToken": ""}),
    ]
    readings, provider, _ = await collect(routes, account_plan=False, forecasts=False)
    assert [r.json for r in provider.requests] == [
        {"maxResults": 1000},
        {"maxResults": 1000, "nextToken": "tok-2"},
        {"maxResults": 1000, "nextToken": "tok-3"},
    ]
    assert {r.resource for r in readings} == {
        "AWS Glue/Catalog-Request",
        "AWS Glue/Catalog-Storage",
        "AWS Glue/Other",
    }


async def test_repeated_next_token_is_drift() -> None:
    page = {"freeTierUsages": [usage_row()], "nextToken": "same"}
    routes = [Route("POST", "/", body=page)]
    with pytest.raises(UnexpectedResponse, match="nextToken repeats"):
        await collect(routes, account_plan=False)


async def test_too_many_pages_is_refused() -> None:
    routes = [
        ok({"freeTierUsages": [], "nextToken": "a"}),
        ok({"freeTierUsages": [], "nextToken": "b"}),
    ]
    with pytest.raises(UnexpectedResponse, match="after 2 pages"):
        await collect(routes, account_plan=False, max_pages=2)


# --- credentials ------------------------------------------------------------------------------


@pytest.fixture
def isolated_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """botocore's chain with no files, no metadata service and no AWS variables."""
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


async def chain_collect(routes: list[Route], **opts: Any) -> FakeProvider:
    provider = FakeProvider(routes)
    async with provider.client() as client:
        collector = AwsCollector(AwsOptions.model_validate(opts), client)
        await collector.collect(ctx())
    return provider


@pytest.mark.usefixtures("isolated_chain")
async def test_credential_chain_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-key-0123456789")
    provider = await chain_collect([ok({"freeTierUsages": [usage_row()]})], account_plan=False)
    parts = verify_sigv4(
        provider.requests[0], "freetier.us-east-1.api.aws", secret="env-secret-key-0123456789"
    )
    assert parts["key_id"] == "AKIDFROMENVIRONMENT"


@pytest.mark.usefixtures("isolated_chain")
async def test_credential_chain_from_profile(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[shard-2]\naws_access_key_id = AKIDFROMPROFILE\n"
        "aws_secret_access_key = profile-secret-0123456789\n"
    )
    provider = await chain_collect(
        [ok({"freeTierUsages": [usage_row()]})], account_plan=False, profile="shard-2"
    )
    parts = verify_sigv4(
        provider.requests[0], "freetier.us-east-1.api.aws", secret="profile-secret-0123456789"
    )
    assert parts["key_id"] == "AKIDFROMPROFILE"


@pytest.mark.usefixtures("isolated_chain")
async def test_no_credentials_anywhere_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="no AWS credentials found"):
        await chain_collect([])


@pytest.mark.usefixtures("isolated_chain")
async def test_unknown_profile_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="ProfileNotFound"):
        await chain_collect([], profile="nope")


@pytest.fixture
def no_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import botocore.*` fail as it does when the extra is not installed."""
    for name in list(sys.modules):
        if name == "botocore" or name.startswith("botocore."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "botocore", None)


@pytest.mark.usefixtures("no_botocore")
async def test_missing_extra_names_the_install_command() -> None:
    provider = FakeProvider([])
    async with provider.client() as client:
        collector = AwsCollector(options(), client)
        with pytest.raises(MissingExtra) as collected:
            await collector.collect(ctx())
        with pytest.raises(MissingExtra) as probed:
            await collector.probe()
    for raised in (collected, probed):
        assert EXTRA_HINT in str(raised.value)
        assert "botocore" in str(raised.value)
        assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert provider.requests == []


# --- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"access_key_id": KEY_ID}, "both access_key_id and secret_access_key"),
        ({"secret_access_key": SECRET}, "both access_key_id and secret_access_key"),
        ({"session_token": TOKEN}, "session_token needs"),
        ({"access_key_id": KEY_ID, "secret_access_key": SECRET, "profile": "p"}, "profile"),
        ({"region": "moon-1"}, "not an AWS region"),
        ({"region": "us-gov-west-1"}, "aws and aws-cn partitions"),
        ({"api_base": "ftp://x"}, "http"),
        ({"api_base": "https://user:pw@x"}, "user info"),
        ({"page_size": 0}, "greater than or equal to 1"),
        ({"tokn": "x"}, "Extra inputs"),
    ],
)
def test_options_are_validated(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        AwsOptions.model_validate(raw)


def test_partition_selects_endpoint_and_signing_region() -> None:
    default = AwsOptions()
    assert (default.endpoint, default.signing_region) == (DEFAULT_API_BASE, "us-east-1")
    eu = AwsOptions(region="eu-west-1")
    assert (eu.endpoint, eu.signing_region) == (DEFAULT_API_BASE, "us-east-1")
    china = AwsOptions(region="cn-north-1")
    assert (china.endpoint, china.signing_region) == (CN_API_BASE, "cn-northwest-1")
    proxied = AwsOptions(region="cn-north-1", api_base="http://127.0.0.1:9/base/")
    assert proxied.endpoint == "http://127.0.0.1:9/base"


def test_options_never_show_secrets() -> None:
    opts = options(session_token=TOKEN)
    shown = (
        repr(opts) + str(opts) + opts.model_dump_json() + json.dumps(opts.model_dump(), default=str)
    )
    for secret in (KEY_ID, SECRET, TOKEN):
        assert secret not in shown
