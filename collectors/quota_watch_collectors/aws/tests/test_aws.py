"""Unit tests of the aws collector: SigV4 on the wire, credentials, units, naming, errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.aws.client import EXTRA_HINT, MissingExtra
from quota_watch_collectors.aws.collector import AwsCollector, classify_unit, months_before
from quota_watch_collectors.aws.options import CN_API_BASE, DEFAULT_API_BASE, AwsOptions

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    NoData,
    ProviderUnavailable,
    RateLimited,
    Reading,
    UnexpectedResponse,
)
from quota_watch.testing import FakeProvider, RecordedRequest, Route, iter_cases, run_case
from quota_watch.testing.loopback import LoopbackProvider, point_at

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
KEY_ID = "AKIDEXAMPLEFAKE0001"
SECRET = "fake-secret-access-key-0123456789"
TOKEN = "fake-session-token-abcdefghijklmnop"
GIB = 2.0**30


def usage_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "service": "AWS Glue",
        "operation": "Request",
        "usageType": "Catalog-Request",
        "region": "global",
        "actualUsageAmount": 287.0,
        "forecastedUsageAmount": 2224.25,
        "limit": 1000000.0,
        "unit": "Request",
        "freeTierType": "Always Free",
        "description": "1000000.0 Request are always free per month",
    }
    row.update(overrides)
    return row


def plan_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountId": "111122223333",
        "accountPlanType": "FREE",
        "accountPlanStatus": "ACTIVE",
        "accountPlanRemainingCredits": {"amount": 100.0, "unit": "USD"},
        "accountPlanExpirationDate": "2027-02-23T00:00:00Z",
    }
    body.update(overrides)
    return body


def ok(body: Any) -> Route:
    return Route("POST", "/", body=body, times=1)


def error(status: int, code: str, message: str = "", **headers: str) -> Route:
    return Route(
        "POST", "/", status=status, body={"__type": code, "message": message}, headers=headers
    )


def options(**overrides: Any) -> AwsOptions:
    raw: dict[str, Any] = {"access_key_id": KEY_ID, "secret_access_key": SECRET}
    raw.update(overrides)
    return AwsOptions.model_validate(raw)


def ctx(state: dict[str, Any] | None = None, now: datetime = NOW) -> CollectContext:
    return CollectContext(account="t", now=now, periods={}, state=state or {})


async def collect(
    routes: list[Route], state: dict[str, Any] | None = None, **opts: Any
) -> tuple[list[Reading], FakeProvider, CollectContext]:
    provider = FakeProvider(routes)
    context = ctx(state)
    async with provider.client() as client:
        readings = await AwsCollector(options(**opts), client).collect(context)
    assert not provider.unmatched
    return readings, provider, context


def by_key(readings: list[Reading]) -> dict[tuple[str, str | None], Reading]:
    return {(r.limit, r.resource): r for r in readings}


# --- cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", iter_cases(Path(__file__).parent), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(AwsCollector, case_dir)


# --- SigV4 on the wire ------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(request: RecordedRequest, host: str, secret: str = SECRET) -> dict[str, str]:
    """Recompute the SigV4 signature of a received request from the spec; returns its parts.

    `host` is the Host header the server must have received (and botocore must have signed).
    """
    assert request.headers["host"] == host
    auth = request.headers["authorization"]
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
        r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
        auth,
    )
    assert match is not None, "Authorization header is not SigV4"
    key_id, day, region, service, signed, signature = match.groups()
    amz_date = request.headers["x-amz-date"]
    assert amz_date.startswith(day)
    values = {name: request.headers[name] for name in signed.split(";")}
    canonical_headers = "".join(
        f"{name}:{' '.join(values[name].split())}\n" for name in signed.split(";")
    )
    canonical = "\n".join(
        [
            request.method,
            request.path,
            "",
            canonical_headers,
            signed,
            hashlib.sha256(request.content).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert signature == expected, "SigV4 signature does not verify"
    return {"key_id": key_id, "region": region, "service": service, "signed": signed}


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


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "kind", "factor"),
    [
        ("Hrs", "seconds", 3600.0),
        ("Hours", "seconds", 3600.0),
        ("Minutes", "seconds", 60.0),
        ("Seconds", "seconds", 1.0),
        ("GB", "bytes", GIB),
        ("GB-Mo", "bytes", GIB),
        ("gb-month", "bytes", GIB),
        ("MB", "bytes", 2.0**20),
        ("TB", "bytes", 2.0**40),
        ("Bytes", "bytes", 1.0),
        ("GiB", "bytes", GIB),
        ("Request", "units", 1.0),
        ("Obj-Month", "units", 1.0),
        ("Lambda-GB-Second", "units", 1.0),
        ("vCPU-Hours", "units", 1.0),
        ("", "units", 1.0),
    ],
)
def test_classify_unit(unit: str, kind: str, factor: float) -> None:
    assert classify_unit(unit, GIB) == (kind, factor)


def test_decimal_gigabytes_when_configured() -> None:
    assert classify_unit("GB-Mo", 1e9) == ("bytes", 1e9)
    assert classify_unit("GiB", 1e9) == ("bytes", GIB)  # an explicit binary unit stays binary
    assert options(gigabyte="GB").gigabyte_bytes == 1e9


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2027, 8, 31, tzinfo=UTC), 6) == datetime(2027, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2028, 8, 31, tzinfo=UTC), 6) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, 6, tzinfo=UTC), 12) == datetime(
        2026, 1, 15, 6, tzinfo=UTC
    )


async def test_offers_sharing_a_name_are_told_apart() -> None:
    rows = [
        usage_row(region="us-east-1", actualUsageAmount=1.0),
        usage_row(region="eu-west-1", actualUsageAmount=2.0),
        usage_row(usageType="Same"),
        usage_row(usageType="Same"),  # listed twice, identical: one offer
    ]
    readings, _, _ = await collect([ok({"freeTierUsages": rows})], account_plan=False)
    keys = by_key(readings)
    assert keys[("free_tier_units", "AWS Glue/Catalog-Request (us-east-1)")].value == 1.0
    assert keys[("free_tier_units", "AWS Glue/Catalog-Request (eu-west-1)")].value == 2.0
    assert ("free_tier_units", "AWS Glue/Same") in keys
    assert len(readings) == 6  # three offers, each with its forecast


async def test_same_offer_with_different_amounts_is_drift() -> None:
    rows = [usage_row(), usage_row(actualUsageAmount=1.0)]
    with pytest.raises(UnexpectedResponse, match="twice"):
        await collect([ok({"freeTierUsages": rows})], account_plan=False)


async def test_zero_limit_gives_no_cap_and_negative_amounts_are_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [
        usage_row(usageType="Zero", limit=0.0),
        usage_row(usageType="Negative", actualUsageAmount=-1.0),
        usage_row(usageType="NoForecast", forecastedUsageAmount=None),
    ]
    caplog.set_level(logging.DEBUG)
    readings, _, _ = await collect([ok({"freeTierUsages": rows})], account_plan=False)
    keys = by_key(readings)
    assert keys[("free_tier_units", "AWS Glue/Zero")].cap is None
    assert not any(r.resource == "AWS Glue/Negative" for r in readings)
    assert ("free_tier_units", "AWS Glue/NoForecast") in keys
    assert ("free_tier_forecast_units", "AWS Glue/NoForecast") not in keys
    assert "negative amount" in caplog.text


async def test_forecasts_can_be_switched_off() -> None:
    readings, _, _ = await collect(
        [ok({"freeTierUsages": [usage_row()]})], account_plan=False, forecasts=False
    )
    assert [r.limit for r in readings] == ["free_tier_units"]


async def test_account_plan_off_makes_one_call() -> None:
    _, provider, _ = await collect([ok({"freeTierUsages": [usage_row()]})], account_plan=False)
    assert [r.headers["x-amz-target"] for r in provider.requests] == [
        "AWSFreeTierService.GetFreeTierUsage"
    ]


async def test_credit_estimate_follows_spending_and_earned_credits() -> None:
    state: dict[str, Any] = {}
    used: list[tuple[float, float | None]] = []
    for remaining in (100.0, 80.0, 95.0, 60.0):
        routes = [
            ok({"freeTierUsages": []}),
            ok(plan_body(accountPlanRemainingCredits={"amount": remaining, "unit": "USD"})),
        ]
        readings, _, context = await collect(routes, state=state)
        state = dict(context.state)
        reading = by_key(readings)[("credits_used", None)]
        used.append((reading.value, reading.cap))
    # 100 seen first; 20 spent; 15 earned (an activity); 35 more spent.
    assert used == [(0.0, 100.0), (20.0, 100.0), (20.0, 115.0), (55.0, 115.0)]
    assert state == {"credits": {"available": 115.0, "remaining": 60.0}}


async def test_credit_state_is_untouched_when_the_poll_fails() -> None:
    state = {"credits": {"available": 150.0, "remaining": 90.0}}
    routes = [ok({"freeTierUsages": []}), error(400, "ThrottlingException")]
    provider = FakeProvider(routes)
    context = ctx(dict(state))
    async with provider.client() as client:
        with pytest.raises(RateLimited):
            await AwsCollector(options(), client).collect(context)
    assert context.state == state


async def test_credit_grant_below_remaining_leaves_credits_used_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body())]
    readings, _, context = await collect(routes, credit_grant=50.0)
    assert [r.limit for r in readings if r.limit.startswith("credits")] == ["credits_remaining"]
    assert "raise credit_grant" in caplog.text
    assert "credits" not in context.state


async def test_plan_without_credits_or_expiry_reports_what_it_has() -> None:
    body = plan_body()
    del body["accountPlanRemainingCredits"], body["accountPlanExpirationDate"]
    with pytest.raises(NoData):
        await collect([ok({"freeTierUsages": []}), ok(body)])


async def test_plan_not_started_has_no_elapsed_time() -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body(accountPlanStatus="NOT_STARTED"))]
    readings, _, _ = await collect(routes)
    assert "plan_time_used" not in {r.limit for r in readings}


@pytest.mark.parametrize(
    "expiry",
    ["2027-02-23T00:00:00Z", "2027-02-23T00:00:00.000Z", "2027-02-23T00:00:00", 1803340800],
)
async def test_expiry_timestamp_forms(expiry: Any) -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body(accountPlanExpirationDate=expiry))]
    readings, _, _ = await collect(routes)
    elapsed = by_key(readings)[("plan_time_used", None)]
    start = datetime(2026, 8, 23, tzinfo=UTC)
    assert elapsed.value == (NOW - start).total_seconds()
    assert elapsed.cap == (datetime(2027, 2, 23, tzinfo=UTC) - start).total_seconds()


async def test_credits_in_another_currency_are_drift() -> None:
    body = plan_body(accountPlanRemainingCredits={"amount": 5.0, "unit": "EUR"})
    with pytest.raises(UnexpectedResponse, match="'EUR'"):
        await collect([ok({"freeTierUsages": []}), ok(body)])


# --- errors -----------------------------------------------------------------------------------


async def errors_of(*routes: Route, **opts: Any) -> Exception:
    provider = FakeProvider(list(routes))
    async with provider.client() as client:
        collector = AwsCollector(options(**opts), client)
        with pytest.raises(Exception) as raised:
            await collector.collect(ctx())
    return raised.value


async def test_access_denied_names_the_missing_permission() -> None:
    message = "User: arn:aws:iam::1:user/x is not authorized to perform: freetier:GetFreeTierUsage"
    exc = await errors_of(error(400, "AccessDeniedException", message))
    assert isinstance(exc, AuthError)
    assert "freetier:GetFreeTierUsage" in str(exc)
    exc = await errors_of(error(400, "com.amazonaws.freetier#AccessDeniedException"))
    assert isinstance(exc, AuthError)
    assert "freetier:GetFreeTierUsage" in str(exc)  # from the operation when AWS says nothing


@pytest.mark.parametrize(
    ("code", "message", "hint"),
    [
        ("UnrecognizedClientException", "", "not recognised"),
        (
            "InvalidSignatureException",
            "Signature expired: 20261122T000000Z is now earlier",
            "clock",
        ),
        ("InvalidSignatureException", "does not match", "secret_access_key"),
        ("ExpiredTokenException", "", "session token has expired"),
        ("MissingAuthenticationTokenException", "", "no valid signature"),
    ],
)
async def test_credential_errors(code: str, message: str, hint: str) -> None:
    exc = await errors_of(error(400, code, message))
    assert isinstance(exc, AuthError)
    assert hint in str(exc)


async def test_signature_error_text_is_never_echoed() -> None:
    canonical = f"The Canonical String was POST / x-amz-security-token:{TOKEN} ..."
    exc = await errors_of(error(403, "InvalidSignatureException", canonical), session_token=TOKEN)
    assert isinstance(exc, AuthError)
    for secret in (TOKEN, SECRET, KEY_ID):
        assert secret not in str(exc) and secret not in repr(exc)


async def test_throttling_uses_retry_after_or_the_default() -> None:
    exc = await errors_of(error(400, "ThrottlingException"), throttle_retry_after="2m")
    assert isinstance(exc, RateLimited) and exc.retry_after == 120.0
    exc = await errors_of(error(429, "TooManyRequestsException", **{"Retry-After": "7"}))
    assert isinstance(exc, RateLimited) and exc.retry_after == 7.0
    when = "Sun, 22 Nov 2026 10:00:30 GMT"
    exc = await errors_of(Route("POST", "/", status=429, headers={"Retry-After": when}))
    assert isinstance(exc, RateLimited)
    assert exc.retry_after is not None and exc.retry_after > 0


async def test_error_code_from_header() -> None:
    route = Route(
        "POST",
        "/",
        status=400,
        headers={"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/"},
        body={"message": "denied"},
    )
    assert isinstance(await errors_of(route), AuthError)


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (Route("POST", "/", status=502, body="<html>Bad Gateway</html>"), ProviderUnavailable),
        (error(500, "InternalServerException"), ProviderUnavailable),
        (error(503, "ServiceUnavailableException"), ProviderUnavailable),
        (error(400, "ValidationException", "maxResults out of range"), UnexpectedResponse),
        (error(400, "SomethingNewException"), UnexpectedResponse),
        (Route("POST", "/", status=200, body="not json"), UnexpectedResponse),
        (Route("POST", "/", status=200, body=["a", "list"]), UnexpectedResponse),
        (Route("POST", "/", status=200, body={"__type": "ThrottlingException"}), RateLimited),
        (Route("POST", "/", status=200, body={"freeTierUsages": "nope"}), UnexpectedResponse),
        (Route("POST", "/", status=404), UnexpectedResponse),
        (Route("POST", "/", status=401), AuthError),
    ],
)
async def test_error_mapping(route: Route, expected: type[Exception]) -> None:
    assert isinstance(await errors_of(route), expected)


async def test_validation_message_is_shown() -> None:
    exc = await errors_of(error(400, "ValidationException", "maxResults out of range"))
    assert "maxResults out of range" in str(exc)


async def test_drift_names_the_field() -> None:
    row = usage_row()
    row["limit"] = "1000000"
    exc = await errors_of(ok({"freeTierUsages": [usage_row(), row]}))
    assert isinstance(exc, UnexpectedResponse)
    assert "freeTierUsages[1].limit" in str(exc)


async def test_plan_drift_names_the_field() -> None:
    body = plan_body()
    del body["accountPlanStatus"]
    exc = await errors_of(ok({"freeTierUsages": []}), ok(body))
    assert isinstance(exc, UnexpectedResponse)
    assert "accountPlanStatus" in str(exc)


async def test_transport_errors_are_unavailable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(ProviderUnavailable) as raised:
            await AwsCollector(options(session_token=TOKEN), client).collect(ctx())
    assert raised.value.__context__ is None
    assert TOKEN not in str(raised.value)


# --- probe ------------------------------------------------------------------------------------


async def test_probe_checks_both_operations() -> None:
    provider = FakeProvider([ok({"freeTierUsages": []}), error(400, "ResourceNotFoundException")])
    async with provider.client() as client:
        await AwsCollector(options(), client).probe()
    assert [r.json for r in provider.requests] == [{"maxResults": 1}, {}]


async def test_probe_fails_on_missing_plan_permission() -> None:
    provider = FakeProvider([ok({"freeTierUsages": []}), error(400, "AccessDeniedException")])
    async with provider.client() as client:
        with pytest.raises(AuthError, match="freetier:GetAccountPlanState"):
            await AwsCollector(options(), client).probe()


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
