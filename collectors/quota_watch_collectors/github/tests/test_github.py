"""Tests of the github collector: every case (mock transport and loopback HTTP), plus unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.github.billing import (
    LIMITS,
    PLAN_QUOTAS,
    codespaces_cores,
    is_uncounted_runner_sku,
    item_day,
    normalize_sku,
    normalize_unit,
)
from quota_watch_collectors.github.collector import (
    GitHubCollector,
    _months,
    _Window,
    plan_limits,
)
from quota_watch_collectors.github.options import GitHubOptions

from quota_watch.sdk import AuthError, CollectContext, Period, PeriodKind
from quota_watch.testing import (
    FakeProvider,
    Route,
    account_limits,
    catalogue_limits,
    iter_cases,
    run_case,
)

CASES = iter_cases(Path(__file__).parent)


@pytest.mark.parametrize("case_dir", CASES, ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(GitHubCollector, case_dir)


@pytest.mark.slow
@pytest.mark.parametrize("case_dir", CASES, ids=lambda p: p.name)
async def test_case_over_http(case_dir: Path) -> None:
    await run_case(GitHubCollector, case_dir, over_http=True)


# --- unit tests -------------------------------------------------------------------------------


TOKEN = "ghp_fakeToken0123456789abcdef"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NOV = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def options(**extra: Any) -> GitHubOptions:
    return GitHubOptions.model_validate({"token": TOKEN, "user": "alice", **extra})


@pytest.mark.parametrize(
    ("product", "sku", "expected"),
    [
        ("Actions", "Actions Linux", "actions_linux"),
        ("actions", "actions_linux", "actions_linux"),
        ("Actions", "Actions macOS runners", "actions_macos"),
        ("actions", "linux", "actions_linux"),
        ("Packages", "Packages data transfer", "packages_bandwidth"),
        ("Packages", "Packages storage", "packages_storage"),
        ("Codespaces", "Codespaces compute (4-core)", "codespaces_compute_4_core"),
        ("Git LFS", "git_lfs_storage", "git_lfs_storage"),
    ],
)
def test_normalize_sku(product: str, sku: str, expected: str) -> None:
    assert normalize_sku(product, sku) == expected


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("minutes", "minutes"),
        ("Minutes", "minutes"),
        ("GigabyteHours", "gigabyte_hours"),
        ("GB-Hours", "gigabyte_hours"),
        ("gigabyte-hours", "gigabyte_hours"),
        ("gigabytes", "gigabytes"),
        ("Hours", "hours"),
        ("user-months", "user_months"),
    ],
)
def test_normalize_unit(unit: str, expected: str) -> None:
    assert normalize_unit(unit) == expected


def test_codespaces_cores_and_runner_classes() -> None:
    assert codespaces_cores("codespaces_compute_d32") == 32
    assert codespaces_cores("codespaces_compute_4_core") == 4
    assert codespaces_cores("codespaces_compute_gpu") is None
    assert codespaces_cores("codespaces_storage") is None
    for sku in (
        "actions_linux_4_core",
        "actions_linux_2_core_arm",
        "actions_windows_2_core",
        "actions_linux_a100_24_core_gpu",
        "actions_macos_l",
        "actions_macos_xl",
        "actions_macos_12_core",
        "actions_self_hosted_linux",
        "actions_beta_public_repository",
    ):
        assert is_uncounted_runner_sku(sku), sku
    for sku in ("actions_linux", "actions_linux_arm", "actions_macos", "actions_unknown"):
        assert not is_uncounted_runner_sku(sku), sku


def test_item_day_forms() -> None:
    assert item_day("2026-11-03") == date(2026, 11, 3)
    assert item_day("2026-11-03T00:00:00Z") == date(2026, 11, 3)
    assert item_day("2026-11-03T23:30:00-02:00") == date(2026, 11, 4)
    with pytest.raises(ValueError):
        item_day("03/11/2026")


def test_catalogue_caps_are_the_free_personal_plan() -> None:
    quota = PLAN_QUOTAS[("free", True)]
    limits = catalogue_limits(GitHubCollector)
    assert set(limits) == set(LIMITS)
    for name, spec in limits.items():
        assert spec.cap == quota.cap(name), name


def test_plan_limits() -> None:
    catalogue = catalogue_limits(GitHubCollector)
    assert plan_limits(options(), catalogue) is None
    pro = plan_limits(options(plan="pro"), catalogue)
    assert pro is not None
    assert pro["actions_minutes"].cap == 3000 * 60
    assert pro["shared_storage"].cap == 2**30
    assert pro["codespaces_core_hours"].cap == 180 * 3600
    assert pro["codespaces_storage"].cap == 20 * 2**30
    org = plan_limits(
        GitHubOptions.model_validate({"token": TOKEN, "org": "acme", "plan": "enterprise"}),
        catalogue,
    )
    assert org is not None
    assert org["actions_minutes"].cap == 50_000 * 60
    assert org["packages_bandwidth"].cap == 100 * 2**30
    assert org["codespaces_core_hours"].cap is None
    assert org["codespaces_storage"].enforcement.value == "billed"


def test_codespaces_anchor_day_is_a_period_anchor() -> None:
    client = httpx.AsyncClient()
    collector = GitHubCollector(
        options(codespaces_anchor_day=15), client, catalogue_limits(GitHubCollector)
    )
    assert collector.declared_limits() is None
    anchored = account_limits(collector)
    assert anchored["codespaces_storage"].period.kind is PeriodKind.BILLING_CYCLE
    assert anchored["codespaces_storage"].period.anchor_day == 15
    assert anchored["actions_minutes"].period.kind is PeriodKind.CALENDAR_MONTH
    assert (
        anchored["actions_minutes"].cap == catalogue_limits(GitHubCollector)["actions_minutes"].cap
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"token": TOKEN}, "exactly one of user"),
        ({"token": TOKEN, "user": "a", "org": "b"}, "exactly one of user"),
        ({"token": TOKEN, "user": "alice", "plan": "team"}, "organization plan"),
        ({"token": TOKEN, "org": "acme", "plan": "pro"}, "personal plan"),
        ({"token": TOKEN, "user": "-alice"}, "not a GitHub login"),
        ({"token": TOKEN, "user": "al--ice"}, "not a GitHub login"),
        ({"token": "ghp_fake token 123", "user": "alice"}, "whitespace"),
        ({"token": TOKEN, "user": "alice", "api_base": "ftp://x"}, "http(s)"),
        ({"token": TOKEN, "user": "alice", "minute_multipliers": {"linux": 0}}, "> 0"),
        (
            {"token": TOKEN, "user": "alice", "minute_multipliers": {"linux": 1, "Linux": 2}},
            "listed twice",
        ),
        ({"token": TOKEN, "user": "alice", "codespaces_anchor_day": 32}, "less than or equal"),
        ({"token": TOKEN, "user": "alice", "surprise": 1}, "Extra inputs"),
    ],
)
def test_invalid_options(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        GitHubOptions.model_validate(raw)
    # Messages without inputs, as the core shows them (pydantic's str() echoes input dicts).
    text = "\n".join(e["msg"] for e in info.value.errors(include_input=False))
    assert message in text
    assert TOKEN not in text


def test_options_normalize_skus_and_hide_the_token() -> None:
    opts = options(
        minute_multipliers={"Actions Linux": 1, "windows": 2},
        storage_skus=["Actions storage", "packages_storage"],
        api_base="http://127.0.0.1:8080/",
    )
    assert opts.minute_multipliers == {"actions_linux": 1.0, "actions_windows": 2.0}
    assert opts.storage_skus == ("actions_storage", "packages_storage")
    assert opts.api_base == "http://127.0.0.1:8080"
    assert TOKEN not in repr(opts) and TOKEN not in opts.model_dump_json()


def test_months_span_a_year_boundary() -> None:
    december = _Window(datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC))
    january = _Window(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    now = datetime(2027, 1, 3, tzinfo=UTC)
    assert _months([december, january], now) == [(2026, 12), (2027, 1)]
    # A window whose end is still ahead stops at the current month.
    november = _Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert _months([november], NOW) == [(2026, 11)]


def _context() -> CollectContext:
    return CollectContext(account="t", now=NOW, periods=dict.fromkeys(LIMITS, NOV), state={})


async def test_rate_limit_headers_are_reported_and_the_request_is_right() -> None:
    provider = FakeProvider(
        [
            Route(
                "GET",
                "/users/alice/settings/billing/usage",
                headers={
                    "x-ratelimit-remaining": "4987",
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-reset": "1795342000",
                },
                body={"usageItems": []},
            )
        ]
    )
    ctx = _context()
    async with provider.client() as client:
        readings = await GitHubCollector(options(), client).collect(ctx)
    assert {r.limit: r.value for r in readings} == dict.fromkeys(LIMITS, 0.0)
    assert ctx.rate_limit is not None
    assert ctx.rate_limit.remaining == 4987
    assert ctx.rate_limit.limit == 5000
    assert ctx.rate_limit.resets_at == datetime.fromtimestamp(1795342000, UTC)
    [request] = provider.requests
    assert request.query == {"year": "2026", "month": "11"}


async def test_headers_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"usageItems": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await GitHubCollector(options(api_version="2026-03-10"), client).collect(_context())
    [request] = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2026-03-10"
    assert request.url.path == "/users/alice/settings/billing/usage"


async def test_probe_asks_for_today() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"usageItems": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = GitHubCollector(
            GitHubOptions.model_validate({"token": TOKEN, "org": "acme"}), client
        )
        await collector.probe()
    [request] = seen
    assert request.url.path == "/organizations/acme/settings/billing/usage"
    assert set(request.url.params) == {"year", "month", "day"}


async def test_probe_maps_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Bad credentials"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthError):
            await GitHubCollector(options(), client).probe()


async def test_an_echoed_token_is_scrubbed_from_messages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"message": f"token {TOKEN} is odd"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(Exception) as info:
            await GitHubCollector(options(), client).collect(_context())
    assert type(info.value).__name__ == "UnexpectedResponse"
    assert TOKEN not in str(info.value)
    assert "***" in str(info.value)


async def test_connection_errors_are_unavailable_without_secrets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(Exception) as info:
            await GitHubCollector(options(), client).collect(_context())
    error = info.value
    assert type(error).__name__ == "ProviderUnavailable"
    assert error.__context__ is None and error.__cause__ is None


async def test_unknown_minutes_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    body = {
        "usageItems": [
            {
                "date": "2026-11-03",
                "product": "actions",
                "sku": "actions_unknown",
                "quantity": 25,
                "unitType": "minutes",
            }
        ]
    }
    provider = FakeProvider([Route("GET", "/users/alice/settings/billing/usage", body=body)])
    async with provider.client() as client:
        readings = await GitHubCollector(options(), client).collect(_context())
    assert {r.limit: r.value for r in readings}["actions_minutes"] == 0.0
    assert "actions_unknown (25 min)" in caplog.text
    # Listing the SKU makes it count.
    async with provider.client() as client:
        collector = GitHubCollector(
            options(minute_multipliers={"actions_linux": 1, "actions_unknown": 1}), client
        )
        readings = await collector.collect(_context())
    assert {r.limit: r.value for r in readings}["actions_minutes"] == 25 * 60.0
