"""Unit tests of the cloudflare collector's REST calls: Pages build listings, errors, probe."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quota_watch_collectors.cloudflare.tests.support import (
    ACCOUNT,
    PROJECTS,
    Handler,
    Provider,
    assert_no_secret,
    collect,
    collect_error,
    deployment,
    envelope,
    options,
    probe,
    values,
)

from quota_watch.sdk import AuthError, ProviderUnavailable, RateLimited, UnexpectedResponse

# --- Pages builds -----------------------------------------------------------------------------


def pages_provider(deployments: dict[str, dict[str, Any]]) -> Provider:
    rest: dict[tuple[str, str], dict[str, Any]] = {
        (PROJECTS, "1"): envelope([{"name": "docs"}], page=1, per_page=10, total_count=1),
    }
    for page, body in deployments.items():
        rest[(f"{PROJECTS}/docs/deployments", page)] = body
    return Provider(rest=rest)


async def test_direct_uploads_counted_on_request() -> None:
    body = envelope(
        [
            deployment("a", "2026-11-21T00:00:00Z", "ad_hoc"),
            deployment("b", "2026-11-20T00:00:00Z", "github:push"),
            deployment("c", "2026-11-19T00:00:00Z", "push", is_skipped=True),
        ],
        page=1,
        total_pages=1,
    )
    default = await collect(options(), pages_provider({"1": body}))
    # "github:push" is not a type the SDK lists: unknown trigger types count as builds.
    assert values(default)[("pages_builds", None)] == 1.0
    counted = await collect(options(pages_count_direct_uploads=True), pages_provider({"1": body}))
    assert values(counted)[("pages_builds", None)] == 2.0


async def test_unsorted_pages_are_all_followed_and_duplicates_dropped() -> None:
    first = envelope(
        [deployment("a", "2026-10-01T00:00:00Z"), deployment("b", "2026-11-03T00:00:00Z")],
        page=1,
        total_pages=2,
    )
    second = envelope(
        [deployment("b", "2026-11-03T00:00:00Z"), deployment("c", "2026-11-04T00:00:00Z")],
        page=2,
        total_pages=2,
    )
    provider = pages_provider({"1": first, "2": second})
    readings = await collect(options(), provider)
    assert values(readings)[("pages_builds", None)] == 2.0
    assert len(provider.requests) == 4


async def test_pagination_ignored_by_the_api_is_an_error() -> None:
    first = envelope([deployment("a", "2026-11-21T00:00:00Z")], page=1, total_pages=3)
    provider = pages_provider({"1": first, "2": first})
    error = await collect_error(options(), provider)
    assert isinstance(error, UnexpectedResponse) and "asked for page 2" in str(error)


async def test_max_pages_bounds_a_listing() -> None:
    pages = {
        str(n): envelope([deployment(f"d{n}", "2026-11-21T00:00:00Z")], page=n, total_pages=9)
        for n in range(1, 10)
    }
    error = await collect_error(options(max_pages=3), pages_provider(pages))
    assert isinstance(error, UnexpectedResponse) and "max_pages" in str(error)


async def test_deployment_without_created_on_is_drift() -> None:
    body = envelope([{"id": "a", "deployment_trigger": {"type": "push"}}], page=1, total_pages=1)
    error = await collect_error(options(), pages_provider({"1": body}))
    assert isinstance(error, UnexpectedResponse) and "created_on" in str(error)


@pytest.mark.parametrize(
    ("status", "errors", "kind"),
    [
        (400, [{"code": 6003, "message": "Invalid request headers"}], AuthError),
        (401, [{"code": 1000, "message": "Invalid API Token"}], AuthError),
        (200, [{"code": 9109, "message": "Unauthorized to access requested resource"}], AuthError),
        (404, [{"code": 7003, "message": "Could not route"}], UnexpectedResponse),
        (429, [], RateLimited),
        (502, [], ProviderUnavailable),
    ],
)
async def test_rest_error_mapping(
    status: int, errors: list[dict[str, Any]], kind: type[Exception]
) -> None:
    body = {"success": False, "errors": errors, "messages": [], "result": None}
    provider = Provider(rest={(PROJECTS, "1"): body})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return provider(request)
        return httpx.Response(status, json=body)

    error = await collect_error(options(), handler)
    assert isinstance(error, kind)
    if kind is AuthError:
        assert "Cloudflare Pages > Read" in str(error)


# --- probe ------------------------------------------------------------------------------------


def verify(status: str, **extra: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        result = {"id": "ed17574386854bf78a67040be0a770b0", "status": status, **extra}
        body = envelope(result)
        body["messages"] = [{"code": 10000, "message": "This API Token is valid and active"}]
        handler.paths.append(request.url.path)  # type: ignore[attr-defined]
        return httpx.Response(200, json=body)

    handler.paths = []  # type: ignore[attr-defined]
    return handler


async def test_probe_verifies_user_and_account_tokens() -> None:
    handler = verify("active", expires_on="2027-01-01T00:00:00Z")
    await probe(options(), handler)
    await probe(options(token_kind="account"), handler)
    assert handler.paths == [  # type: ignore[attr-defined]
        "/client/v4/user/tokens/verify",
        f"/client/v4/accounts/{ACCOUNT}/tokens/verify",
    ]


@pytest.mark.parametrize("state", ["disabled", "expired"])
async def test_probe_rejects_inactive_tokens(state: str) -> None:
    with pytest.raises(AuthError, match=state):
        await probe(options(), verify(state))


async def test_probe_rejects_a_past_expiry() -> None:
    with pytest.raises(AuthError, match="expired"):
        await probe(options(), verify("active", expires_on="2001-01-01T00:00:00Z"))


async def test_probe_invalid_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}
        return httpx.Response(401, json=body)

    with pytest.raises(AuthError) as caught:
        await probe(options(), handler)
    assert "Invalid API Token" in str(caught.value)
    assert_no_secret(caught.value)


async def test_probe_drifted_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope({"token_state": "active"}))

    with pytest.raises(UnexpectedResponse, match="result"):
        await probe(options(), handler)
