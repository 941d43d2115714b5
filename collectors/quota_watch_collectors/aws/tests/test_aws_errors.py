"""Unit tests of the aws collector's errors and probe."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quota_watch_collectors.aws.collector import AwsCollector
from quota_watch_collectors.aws.tests.support import (
    KEY_ID,
    SECRET,
    TOKEN,
    ctx,
    error,
    ok,
    options,
    plan_body,
    usage_row,
)

from quota_watch.sdk import AuthError, ProviderUnavailable, RateLimited, UnexpectedResponse
from quota_watch.testing import FakeProvider, Route

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
