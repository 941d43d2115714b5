"""Shared helpers of the aws collector's tests: fake credentials, canned bodies, SigV4 checks."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

from quota_watch_collectors.aws.collector import AwsCollector
from quota_watch_collectors.aws.options import AwsOptions

from quota_watch.sdk import CollectContext, Reading
from quota_watch.testing import FakeProvider, RecordedRequest, Route

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
KEY_ID = "AKIDEXAMPLEFAKE0001"
SECRET = "fake-secret-access-key-0123456789"
TOKEN = "fake-session-token-abcdefghijklmnop"


def usage_row(**overrides: Any) -> dict[str, Any]:
    """A GetFreeTierUsage row (AWS Glue catalogue requests); `overrides` replace fields."""
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
    """A GetAccountPlanState answer: a free plan with USD 100 credits; `overrides` win."""
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
    """A route answering one POST with `body`."""
    return Route("POST", "/", body=body, times=1)


def error(status: int, code: str, message: str = "", **headers: str) -> Route:
    """A route answering one POST with an AWS JSON error `code` and `message`."""
    return Route(
        "POST", "/", status=status, body={"__type": code, "message": message}, headers=headers
    )


def options(**overrides: Any) -> AwsOptions:
    """Options with the fake static credentials; `overrides` replace fields."""
    raw: dict[str, Any] = {"access_key_id": KEY_ID, "secret_access_key": SECRET}
    raw.update(overrides)
    return AwsOptions.model_validate(raw)


def ctx(state: dict[str, Any] | None = None, now: datetime = NOW) -> CollectContext:
    """A collect context at `now` with `state`."""
    return CollectContext(account="t", now=now, periods={}, state=state or {})


async def collect(
    routes: list[Route], state: dict[str, Any] | None = None, **opts: Any
) -> tuple[list[Reading], FakeProvider, CollectContext]:
    """Poll the fake provider serving `routes`; returns readings, provider and context."""
    provider = FakeProvider(routes)
    context = ctx(state)
    async with provider.client() as client:
        readings = await AwsCollector(options(**opts), client).collect(context)
    assert not provider.unmatched
    return readings, provider, context


def by_key(readings: list[Reading]) -> dict[tuple[str, str | None], Reading]:
    """Readings by (limit, resource)."""
    return {(r.limit, r.resource): r for r in readings}


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
