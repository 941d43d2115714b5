"""Unit tests of the cloudflare collector's GraphQL error mapping and secret scrubbing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quota_watch_collectors.cloudflare.tests.support import (
    TOKEN,
    Provider,
    assert_no_secret,
    collect_error,
    options,
)

from quota_watch.sdk import AuthError, ProviderUnavailable, RateLimited, UnexpectedResponse

# --- GraphQL errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "message", "path", "advice"),
    [
        ({}, 'unknown field "activeTime"', None, None),
        ({}, 'unknown field "duration" on type "X"', None, 'do_duration = "activeTime" or "off"'),
        (
            {"do_duration": "activeTime"},
            'unknown field "activeTime"',
            None,
            'do_duration = "duration" or "off"',
        ),
        ({}, 'unknown field "durableObjectsSqlStorageGroups"', None, "include_do_sql = false"),
        ({}, "unknown field", ["viewer", "accounts", "0", "doPeriodic"], "include_do_sql = false"),
        ({}, 'unknown field "requestz"', ["viewer", "accounts", "0", "workers"], None),
    ],
)
async def test_unknown_field_names_the_option(
    opts: dict[str, Any], message: str, path: list[str] | None, advice: str | None
) -> None:
    document = {"data": None, "errors": [{"message": message, "path": path}]}
    error = await collect_error(options(**opts), Provider(document))
    assert isinstance(error, UnexpectedResponse)
    if advice is None:
        assert "set " not in str(error)
    else:
        assert advice in str(error)


async def test_no_access_to_a_guarded_dataset_is_auth_with_advice() -> None:
    document = {
        "data": None,
        "errors": [
            {
                "message": "account does not have access to the path",
                "path": ["viewer", "accounts", "0", "doSqlStorage"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }
    error = await collect_error(options(), Provider(document))
    assert isinstance(error, AuthError)
    assert "include_do_sql = false" in str(error) and "Account Analytics" in str(error)


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (200, "too many queries in progress, please try again later", ProviderUnavailable),
        (503, "unable to execute query, please try again later", ProviderUnavailable),
        (400, "query time range is too large", UnexpectedResponse),
        (429, "in combination, your request queries too many nodes", RateLimited),
        (403, "zones [] are not authorized", AuthError),
    ],
)
async def test_graphql_error_classes(status: int, message: str, kind: type[Exception]) -> None:
    document = {"data": None, "errors": [{"message": message}]}
    error = await collect_error(options(), Provider(document, status=status))
    assert isinstance(error, kind)


async def test_provider_text_echoing_the_token_is_scrubbed() -> None:
    document = {"data": None, "errors": [{"message": f"bad header Bearer {TOKEN}"}]}
    error = await collect_error(options(), Provider(document))
    assert_no_secret(error)
    assert "***" in str(error)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout("timed out"), httpx.ConnectError(f"refused (token {TOKEN})")],
)
async def test_transport_failures_are_unavailable(failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    error = await collect_error(options(), handler)
    assert isinstance(error, ProviderUnavailable)
    assert_no_secret(error)
    assert error.__context__ is None and error.__cause__ is None
