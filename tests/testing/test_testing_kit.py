"""Tests of the public test kit: fake provider router, case runner and conformance checks."""

from __future__ import annotations

import json
import logging
import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from quota_watch.collect.catalog import load_catalogue
from quota_watch.collect.registry import CollectorInfo
from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    LimitSpec,
    ProviderUnavailable,
    RateLimited,
    Reading,
    UnexpectedResponse,
)
from quota_watch.testing import conformance
from quota_watch.testing.cases import (
    CaseFailed,
    CaseFormatError,
    case_id,
    execute_case,
    iter_cases,
    load_case,
    run_case,
)
from quota_watch.testing.conformance import (
    ConformanceError,
    check_catalogue,
    check_collector,
    check_coverage,
    check_docs,
    check_error_cases,
    check_identity,
    check_no_secret_leaks,
    secret_values,
)
from quota_watch.testing.router import FakeProvider, Route, UnmatchedRequest

TOKEN = "toy-token-0123456789"

# --- a toy HTTP collector the kit is exercised with -----------------------------------------


class ToyOptions(BaseModel):
    """Options of the toy collector."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = "https://api.toy.test"
    api_token: SecretStr


class Toy(CollectorBase):
    """Reads /v1/usage: account requests (with cap) and stored bytes per bucket."""

    name = "toy"
    Options: ClassVar[type[BaseModel]] = ToyOptions

    def token(self) -> str:
        """The bearer token."""
        options: ToyOptions = self.options
        return options.api_token.get_secret_value()

    async def fetch(self, ctx: CollectContext) -> Any:
        """GET the usage document, mapping HTTP failures to typed errors."""
        options: ToyOptions = self.options
        response = await self.client.get(
            f"{options.api_base}/v1/usage",
            headers={"Authorization": f"Bearer {self.token()}"},
            params={"day": ctx.now.date().isoformat()},
        )
        if response.status_code in (401, 403):
            raise AuthError("the API token was rejected")
        if response.status_code == 429:
            after = response.headers.get("Retry-After")
            raise RateLimited(retry_after=float(after) if after else None)
        if response.status_code >= 500:
            raise ProviderUnavailable(f"HTTP {response.status_code}")
        return response.json()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Map the usage document to readings."""
        data = await self.fetch(ctx)
        try:
            readings = [
                Reading(
                    "requests",
                    float(data["requests"]["used"]),
                    cap=data["requests"].get("cap"),
                    period_start=ctx.period("requests").start,
                )
            ]
            readings += [
                Reading("storage", float(b["bytes"]), resource=b["name"]) for b in data["buckets"]
            ]
        except (KeyError, TypeError, ValueError):
            raise UnexpectedResponse("usage payload changed shape") from None
        ctx.state["polls"] = int(ctx.state.get("polls", 0)) + 1
        return readings


class LogsToken(Toy):
    """Leaks the token into a debug log record."""

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Log, then collect."""
        logging.getLogger("toy").debug("polling with %s", self.token())
        return await super().collect(ctx)


class ErrorHasToken(Toy):
    """Leaks the token into an exception message on drift."""

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Collect, leaking on failure."""
        try:
            return await super().collect(ctx)
        except UnexpectedResponse:
            raise UnexpectedResponse(f"bad payload for token {self.token()}") from None


class CauseHasToken(Toy):
    """Leaks the token through the __cause__ of a raised error."""

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Collect, leaking through the cause on failure."""
        try:
            return await super().collect(ctx)
        except UnexpectedResponse:
            raise UnexpectedResponse("bad payload") from ValueError(f"token={self.token()}")


class StateHasToken(Toy):
    """Stores the token in ctx.state."""

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Collect and remember the token (wrongly)."""
        readings = await super().collect(ctx)
        ctx.state["token"] = self.token()
        return readings


class PlainOptions(BaseModel):
    """Options with a token that is not a SecretStr and extras allowed."""

    api_base: str = "https://api.toy.test"
    api_token: str


class PlainToy(Toy):
    """A collector whose options keep the token in plain text."""

    Options = PlainOptions

    def token(self) -> str:
        """The bearer token."""
        return str(self.options.api_token)


class DeclaredOptions(BaseModel):
    """Options declaring limits (the http_json pattern)."""

    model_config = ConfigDict(extra="forbid")

    limits: dict[str, LimitSpec]
    produce: list[str]


class Declared(CollectorBase):
    """Declares limits in its options and produces the ones listed in `produce`."""

    name = "declared"
    Options = DeclaredOptions
    uses_network: ClassVar[bool] = False

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """The limits declared in the options."""
        options: DeclaredOptions = self.options
        return options.limits

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One reading of 1.0 per produced limit, checking a period exists for declared ones."""
        options: DeclaredOptions = self.options
        for key in options.limits:
            ctx.period(key)
        return [Reading(key, 1.0) for key in options.produce]


LIMITS_TOML = """
[provider]
name = "toy"
title = "Toy cloud"
source = "https://toy.example/pricing"
verified = 2026-11-01

[provider.policy]
multi_account = "allowed"
commercial_use = "allowed"

[limits.requests]
title = "Requests per day"
unit = "count"
measure = "cumulative"
period = "daily"
cap = 100000

[limits.storage]
title = "Stored bytes per bucket"
unit = "bytes"
measure = "level"
scope = "resource"
cap = "1 GB"
"""

README = """# Toy collector

## Permissions

A read-only token with the `usage:read` scope.

## Fixtures

Invented for the kit's own tests.
"""

USAGE = {"requests": {"used": 1234, "cap": 100000}, "buckets": [{"name": "photos", "bytes": 5e8}]}

HEADER = f"""
source = "invented for the kit's own tests"
now = 2026-11-22T10:00:00Z
[options]
api_token = "{TOKEN}"
"""

FIRST_POLL = (
    HEADER
    + """
[state]
polls = 1
[[routes]]
method = "GET"
path = "/v1/usage"
query = { day = "2026-11-22" }
body = "usage.json"
[expect]
[[expect.readings]]
limit = "requests"
value = 1234
cap = 100000
period_start = 2026-11-22T00:00:00Z
[[expect.readings]]
limit = "storage"
resource = "photos"
value = "*"
[expect.state]
polls = 2
"""
)

AUTH_REJECTED = (
    HEADER
    + """
[[routes]]
method = "GET"
path = "/v1/usage"
status = 401
body_text = '{"error": "bad token"}'
[expect]
error = "AuthError"
"""
)

RATE_LIMITED = (
    HEADER
    + """
[[routes]]
method = "GET"
path = "/v1/usage"
status = 429
headers = { "Retry-After" = "30" }
[expect]
error = "RateLimited"
error_retry_after = 30
"""
)

DRIFTED = (
    HEADER
    + """
[[routes]]
method = "GET"
path = "/v1/usage"
body_text = '{"requests": {"count": 3}}'
[expect]
error = "UnexpectedResponse"
"""
)

GOOD_CASES = {
    "first_poll": FIRST_POLL,
    "auth_error": AUTH_REJECTED,
    "rate_limited": RATE_LIMITED,
    "api_changed": DRIFTED,
}


def write_case(cases_dir: Path, name: str, toml: str) -> Path:
    """Write one case folder (with usage.json) and return it."""
    folder = cases_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(textwrap.dedent(toml))
    (folder / "usage.json").write_text(json.dumps(USAGE))
    return folder


def make_collector(
    tmp_path: Path,
    cls: type[Any] = Toy,
    cases: dict[str, str] | None = None,
    limits: str = LIMITS_TOML,
    readme: str | None = README,
) -> CollectorInfo:
    """A collector folder named "toy" in tmp_path with cases, limits.toml and README."""
    folder = tmp_path / "toy"
    folder.mkdir(parents=True)
    (folder / "limits.toml").write_text(limits)
    if readme is not None:
        (folder / "README.md").write_text(readme)
    for name, toml in (GOOD_CASES if cases is None else cases).items():
        write_case(folder / "tests" / "cases", name, toml)
    return CollectorInfo(
        name="toy", cls=cls, catalogue=load_catalogue(folder / "limits.toml"), folder=folder
    )


def problems_of(error: pytest.ExceptionInfo[ConformanceError]) -> str:
    """All problems of a ConformanceError as one string."""
    return "\n".join(error.value.problems)


# --- router ---------------------------------------------------------------------------------


async def test_router_matches_method_and_path_and_defaults_json_content_type() -> None:
    provider = FakeProvider(
        [
            Route("GET", "/a", body={"x": 1}),
            Route("POST", "/a", status=201, body="created", headers={"X-Id": "7"}),
            Route("GET", "/b", body=b"\x00raw"),
        ]
    )
    async with provider.client(base_url="https://any.host.test") as client:
        got = await client.get("/a")
        posted = await client.post("https://other.host/a", json={"k": "v"})
        raw = await client.get("/b")
    assert got.status_code == 200
    assert got.json() == {"x": 1}
    assert got.headers["content-type"] == "application/json"
    assert posted.status_code == 201
    assert posted.text == "created"
    assert posted.headers["x-id"] == "7"
    assert "content-type" not in posted.headers
    assert raw.content == b"\x00raw"
    assert [(r.method, r.path, r.json) for r in provider.requests] == [
        ("GET", "/a", None),
        ("POST", "/a", {"k": "v"}),
        ("GET", "/b", None),
    ]


async def test_router_routes_with_times_exhaust_in_order() -> None:
    provider = FakeProvider(
        [
            Route("GET", "/u", status=429, headers={"Retry-After": "5"}, times=1),
            Route("GET", "/u", status=200, body={"ok": True}, times=2),
        ]
    )
    async with provider.client() as client:
        statuses = [(await client.get("/u")).status_code for _ in range(3)]
        with pytest.raises(UnmatchedRequest, match=r"\[exhausted\]"):
            await client.get("/u")
    assert statuses == [429, 200, 200]
    assert provider.hits == [1, 2]
    assert provider.unused() == []
    assert len(provider.unmatched) == 1


async def test_router_matches_query_subset_and_graphql_operation() -> None:
    provider = FakeProvider(
        [
            Route("GET", "/q", query={"since": "2026-11-22"}, body={"which": "since"}),
            Route("GET", "/q", body={"which": "any"}),
            Route("POST", "/graphql", operation="GetUsage", body={"which": "usage"}),
            Route("POST", "/graphql", operation="GetZones", body={"which": "zones"}),
        ]
    )
    async with provider.client() as client:
        with_since = await client.get("/q", params={"since": "2026-11-22", "extra": "1"})
        other = await client.get("/q", params={"since": "2026-11-21"})
        by_name = await client.post(
            "/graphql", json={"operationName": "GetZones", "query": "query GetZones { z }"}
        )
        by_document = await client.post(
            "/graphql", json={"query": "query GetUsage($a: Int) { usage }"}
        )
    assert with_since.json() == {"which": "since"}
    assert other.json() == {"which": "any"}
    assert by_name.json() == {"which": "zones"}
    assert by_document.json() == {"which": "usage"}
    assert provider.requests[0].query == {"since": "2026-11-22", "extra": "1"}
    assert provider.unused() == []


async def test_router_unmatched_request_lists_routes_but_never_secrets() -> None:
    provider = FakeProvider([Route("GET", "/known", query={"page": "1"}, times=3)])
    async with provider.client() as client:
        with pytest.raises(UnmatchedRequest) as caught:
            await client.get(
                "/unknown",
                params={"api_key": "query-secret-999", "page": "2"},
                headers={"Authorization": "Bearer header-secret-123"},
            )
    message = str(caught.value)
    assert "GET /unknown" in message
    assert "GET /known ?page=1 -> 200 (times=3)" in message
    assert "page=2" in message
    assert "header-secret-123" not in message
    assert "query-secret-999" not in message
    assert isinstance(caught.value, AssertionError)
    assert "header-secret-123" not in repr(provider.requests)
    assert provider.requests[0].headers["authorization"] == "Bearer header-secret-123"


def test_route_rejects_bad_definitions() -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        Route("GET", "v1/usage")
    with pytest.raises(ValueError, match="query"):
        Route("GET", "/v1/usage?x=1")
    with pytest.raises(ValueError, match="times"):
        Route("GET", "/v1/usage", times=0)
    with pytest.raises(ValueError, match="status"):
        Route("GET", "/v1/usage", status=42)


# --- case loading ---------------------------------------------------------------------------


def test_load_case_parses_the_shared_format(tmp_path: Path) -> None:
    toml = (
        HEADER.replace('api_token = "', 'cert = "{case_dir}/cert.pem"\napi_token = "')
        + """
[[routes]]
method = "POST"
path = "/graphql"
operation = "GetUsage"
query = { since = "2026-11-22", page = 2, full = true }
status = 200
headers = { "X-Trace" = "1" }
body = "usage.json"
times = 1
[expect]
[[expect.readings]]
limit = "requests"
value = 12
resource = "{case_dir}/data"
"""
    )
    folder = write_case(tmp_path / "cases", "graph", toml)
    case = load_case(folder)
    assert case.name == "graph"
    assert case.now == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert case.options["cert"] == f"{folder}/cert.pem"
    route = case.routes[0]
    assert route.operation == "GetUsage"
    assert route.query == {"since": "2026-11-22", "page": "2", "full": "true"}
    assert route.times == 1
    assert route.body == json.dumps(USAGE).encode()
    assert dict(route.headers) == {"X-Trace": "1", "Content-Type": "application/json"}
    assert case.expect.readings is not None
    assert case.expect.readings[0].resource == f"{folder}/data"
    assert TOKEN not in repr(case)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("surprise = 1\n" + HEADER + "[expect]\nerror = 'AuthError'\n", "unknown key"),
        (HEADER, "missing \\[expect\\]"),
        (
            HEADER + "[expect]\nerror = 'AuthError'\nreadings = []\n",
            "exactly one of error or readings",
        ),
        (HEADER + "[expect]\nerror = 'KeyError'\n", "not an error of quota_watch.sdk"),
        (
            HEADER + "[expect]\nerror = 'AuthError'\nerror_retry_after = 3\n",
            "only to RateLimited",
        ),
        (
            HEADER.replace("2026-11-22T10:00:00Z", "2026-11-22T10:00:00")
            + "[expect]\nreadings = []\n",
            "UTC offset",
        ),
        (
            HEADER + "[[routes]]\nmethod='GET'\npath='/x'\nbody='nope.json'\n"
            "[expect]\nreadings = []\n",
            "nope.json",
        ),
        (
            HEADER + "[[routes]]\nmethod='GET'\npath='/x'\nbody='usage.json'\nbody_text='{}'\n"
            "[expect]\nreadings = []\n",
            "exclusive",
        ),
        (
            HEADER + "[expect]\nreadings = [{limit='a', value=1}, {limit='a', value=2}]\n",
            "listed twice",
        ),
        (HEADER + "[expect]\nreadings = [{limit='a', value='x'}]\n", "must be a number"),
        ("now = 'garbage'\n[expect]\nreadings = []\n", "ISO 8601"),
        ("not toml at all [", "invalid TOML"),
    ],
)
def test_load_case_rejects_malformed_cases(tmp_path: Path, toml: str, message: str) -> None:
    folder = write_case(tmp_path / "cases", "bad", toml)
    with pytest.raises(CaseFormatError, match=message):
        load_case(folder)


def test_iter_cases_finds_case_folders_and_rejects_stray_ones(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    cases_dir = info.folder / "tests" / "cases"
    expected = [cases_dir / n for n in sorted(GOOD_CASES)]
    assert iter_cases(info.folder) == expected
    assert iter_cases(cases_dir) == expected
    assert iter_cases(info.folder / "tests") == expected
    assert case_id(cases_dir / "auth_error") == "toy/auth_error"
    (cases_dir / "__pycache__").mkdir()
    assert iter_cases(info.folder) == expected
    (cases_dir / "half_written").mkdir()
    with pytest.raises(CaseFormatError, match="half_written"):
        iter_cases(info.folder)


# --- running cases --------------------------------------------------------------------------


async def test_run_case_passes_every_good_case(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    for case_dir in iter_cases(info.folder):
        await run_case(info, case_dir)
    result = await run_case(info, info.folder / "tests" / "cases" / "first_poll")
    assert result.readings is not None
    assert {(r.limit, r.resource) for r in result.readings} == {
        ("requests", None),
        ("storage", "photos"),
    }
    assert result.state == {"polls": 2}
    assert result.case.state == {"polls": 1}, "the case's own state must not be mutated"
    assert set(result.limits) == {"requests", "storage"}
    assert result.declared is False
    assert result.requests[0].query == {"day": "2026-11-22"}


async def _fails_with(info: CollectorInfo, name: str, toml: str, *needles: str) -> CaseFailed:
    folder = write_case(info.folder / "tests" / "cases", name, toml)
    with pytest.raises(CaseFailed) as caught:
        await run_case(info, folder)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)
    return caught.value


async def test_run_case_reports_reading_differences_as_a_diff(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    wrong_value = FIRST_POLL.replace("value = 1234", "value = 1235")
    await _fails_with(
        info,
        "wrong_value",
        wrong_value,
        "case toy/wrong_value",
        "different:  limit='requests': value 1234.0 != expected 1235.0",
    )
    no_cap = FIRST_POLL.replace("cap = 100000\n", "")
    await _fails_with(info, "no_cap", no_cap, "cap 100000 reported, none expected")
    any_cap = FIRST_POLL.replace("cap = 100000\n", 'cap = "*"\n')
    await run_case(info, write_case(info.folder / "tests" / "cases", "any_cap", any_cap))
    cap_wanted = FIRST_POLL.replace('value = "*"', 'value = "*"\ncap = "*"')
    await _fails_with(info, "cap_wanted", cap_wanted, "no cap reported, expected '*'")
    missing = (
        FIRST_POLL + '[[expect.readings]]\nlimit = "storage"\nresource = "videos"\nvalue = 1\n'
    )
    await _fails_with(info, "missing", missing, "missing:    limit='storage' resource='videos'")
    unexpected = FIRST_POLL.replace('resource = "photos"', 'resource = "videos"')
    await _fails_with(
        info,
        "unexpected",
        unexpected,
        "unexpected: limit='storage' resource='photos' value=500000000.0",
        "missing:    limit='storage' resource='videos'",
    )
    period = FIRST_POLL.replace("2026-11-22T00:00:00Z", "2026-11-21T00:00:00Z")
    await _fails_with(info, "period", period, "period_start 2026-11-22T00:00:00+00:00")
    state = FIRST_POLL.replace("polls = 2", "polls = 3")
    await _fails_with(info, "state", state, "polls: 2 != expected 3")
    ends = "period_start = 2026-11-22T00:00:00Z\n"
    end = FIRST_POLL.replace(ends, ends + "period_end = 2026-11-23T00:00:00Z\n")
    await _fails_with(info, "period_end", end, "period_end None != expected 2026-11-23")
    zone = FIRST_POLL.replace(ends, ends + 'period_zone = "UTC"\n')
    await _fails_with(info, "period_zone", zone, "period_zone None != expected 'UTC'")
    forecast = FIRST_POLL.replace(ends, ends + "forecast = 2000\n")
    await _fails_with(info, "forecast", forecast, "no forecast reported, expected 2000.0")


async def test_run_case_checks_errors(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    expects_error = FIRST_POLL.split("[expect]")[0] + "[expect]\nerror = 'AuthError'\n"
    await _fails_with(
        info, "no_error", expects_error, "expected AuthError, but collect() returned 2 reading(s)"
    )
    wrong_error = AUTH_REJECTED.replace("AuthError", "RateLimited")
    failure = await _fails_with(
        info, "wrong_error", wrong_error, "expected RateLimited, got AuthError"
    )
    assert isinstance(failure.__cause__, AuthError)
    wrong_after = RATE_LIMITED.replace("error_retry_after = 30", "error_retry_after = 60")
    await _fails_with(info, "wrong_after", wrong_after, "retry_after is 30.0, expected 60.0")
    drift_expected_readings = DRIFTED.replace(
        '[expect]\nerror = "UnexpectedResponse"', "[expect]\nreadings = []"
    )
    failure = await _fails_with(
        info, "drift", drift_expected_readings, "expected readings, but collect() raised"
    )
    assert isinstance(failure.__cause__, UnexpectedResponse)


async def test_run_case_fails_loudly_on_unanswered_requests(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    swallowing = FIRST_POLL.replace('path = "/v1/usage"', 'path = "/v2/usage"')
    await _fails_with(
        info,
        "unanswered",
        swallowing,
        "no route answers GET /v1/usage",
        "GET /v2/usage ?day=2026-11-22 -> 200",
    )


async def test_run_case_rejects_invalid_options_without_echoing_them(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    toml = FIRST_POLL.replace("[options]\n", '[options]\nsurprise = "hush-hush-value"\n')
    folder = write_case(info.folder / "tests" / "cases", "bad_options", toml)
    with pytest.raises(CaseFormatError, match="surprise") as caught:
        await run_case(info, folder)
    assert "hush-hush-value" not in str(caught.value)


async def test_run_case_with_declared_limits_and_a_bare_class(tmp_path: Path) -> None:
    body = """
source = "kit test"
now = 2026-11-22T10:00:00Z
[options]
produce = ["a"]
[options.limits.a]
title = "A"
unit = "count"
measure = "cumulative"
period = { kind = "calendar_month", tz = "Europe/Paris" }
[expect]
[[expect.readings]]
limit = "a"
value = 1
"""
    ok = write_case(tmp_path / "cases", "ok", body)
    result = await run_case(Declared, ok)
    assert result.declared is True
    period = result.limits["a"].period
    assert period.tz == "Europe/Paris"
    undeclared = body.replace('produce = ["a"]', 'produce = ["a", "b"]') + (
        '[[expect.readings]]\nlimit = "b"\nvalue = 1\n'
    )
    bad = write_case(tmp_path / "cases", "undeclared", undeclared)
    with pytest.raises(CaseFailed, match="undeclared limit\\(s\\) b \\(declared: a\\)"):
        await run_case(Declared, bad)


async def test_run_case_requires_json_serialisable_state(tmp_path: Path) -> None:
    class DatedState(Toy):
        async def collect(self, ctx: CollectContext) -> list[Reading]:
            readings = await super().collect(ctx)
            ctx.state["when"] = ctx.now
            return readings

    info = make_collector(tmp_path, cls=DatedState, cases={"first_poll": FIRST_POLL})
    with pytest.raises(CaseFailed, match="not JSON-serialisable"):
        await run_case(info, info.folder / "tests" / "cases" / "first_poll")


async def test_execute_case_captures_debug_logs_and_restores_levels(tmp_path: Path) -> None:
    info = make_collector(tmp_path, cls=LogsToken)
    root = logging.getLogger()
    before = root.level
    result = await execute_case(info, info.folder / "tests" / "cases" / "first_poll")
    assert root.level == before
    assert any(TOKEN in r.getMessage() for r in result.log_records)


# --- conformance ----------------------------------------------------------------------------


async def test_conformance_accepts_a_well_behaved_collector(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    check_catalogue(info)
    check_docs(info)
    await check_coverage(info)
    await check_error_cases(info)
    await check_no_secret_leaks(info)


class _EntryPoint:
    def __init__(self, cls: type[Any]) -> None:
        self.value = f"{cls.__module__}:{cls.__qualname__}"
        self._cls = cls

    def load(self) -> type[Any]:
        return self._cls


async def test_check_identity_and_full_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = make_collector(tmp_path)
    with pytest.raises(ConformanceError, match="no entry point 'toy'"):
        check_identity(info)
    monkeypatch.setattr(conformance, "entry_points", lambda **_: [_EntryPoint(Toy)])
    check_identity(info)
    await check_collector(info)
    monkeypatch.setattr(conformance, "entry_points", lambda **_: [_EntryPoint(Declared)])
    with pytest.raises(ConformanceError, match="is not Toy"):
        check_identity(info)


def test_check_identity_flags_names_and_lax_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = make_collector(tmp_path, cls=PlainToy)
    monkeypatch.setattr(conformance, "entry_points", lambda **_: [_EntryPoint(PlainToy)])
    with pytest.raises(ConformanceError) as caught:
        check_identity(info)
    text = problems_of(caught)
    assert 'extra="forbid"' in text
    assert "Options.api_token looks like a secret but is not a SecretStr" in text
    renamed = CollectorInfo(name="other", cls=Toy, catalogue=info.catalogue, folder=info.folder)
    with pytest.raises(ConformanceError) as caught:
        check_identity(renamed)
    text = problems_of(caught)
    assert "class attribute name is 'toy', registered as 'other'" in text
    assert "package folder is 'toy', expected 'other'" in text


def test_check_identity_walks_nested_option_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Inner(BaseModel):
        password: str

    class Outer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        inner: dict[str, Inner] | None = None

    class Nested(Toy):
        Options = Outer

    info = make_collector(tmp_path, cls=Nested)
    monkeypatch.setattr(conformance, "entry_points", lambda **_: [_EntryPoint(Nested)])
    with pytest.raises(ConformanceError) as caught:
        check_identity(info)
    text = problems_of(caught)
    assert "Options.inner (Inner) must set" in text
    assert "Options.inner.password looks like a secret" in text


def test_check_catalogue_flags_a_broken_or_foreign_catalogue(tmp_path: Path) -> None:
    info = make_collector(tmp_path)
    (info.folder / "limits.toml").write_text(LIMITS_TOML.replace('name = "toy"', 'name = "zzz"'))
    with pytest.raises(ConformanceError, match=re.escape("provider.name is 'zzz'")):
        check_catalogue(info)
    (info.folder / "limits.toml").write_text("[provider\n")
    with pytest.raises(ConformanceError, match="does not load"):
        check_catalogue(info)


async def test_check_coverage_flags_unproduced_and_undeclared_limits(tmp_path: Path) -> None:
    extra = LIMITS_TOML + '\n[limits.builds]\ntitle = "Builds"\nunit = "count"\nmeasure = "level"\n'
    info = make_collector(tmp_path, limits=extra)
    with pytest.raises(ConformanceError, match="no passing case produces catalogue limit"):
        await check_coverage(info)
    reduced = LIMITS_TOML.split("[limits.storage]")[0]
    other = make_collector(tmp_path / "x", limits=reduced)
    with pytest.raises(
        ConformanceError, match=re.escape("produces storage, not declared in limits.toml")
    ):
        await check_coverage(other)


async def test_check_coverage_ignores_failing_cases(tmp_path: Path) -> None:
    failing = FIRST_POLL.replace("value = 1234", "value = 1")
    info = make_collector(tmp_path, cases={"first_poll": failing})
    with pytest.raises(ConformanceError, match="failing their own checks do not count: first_pol"):
        await check_coverage(info)


async def test_check_error_cases(tmp_path: Path) -> None:
    info = make_collector(tmp_path, cases={"first_poll": FIRST_POLL, "rate_limited": DRIFTED})
    with pytest.raises(ConformanceError) as caught:
        await check_error_cases(info)
    text = problems_of(caught)
    assert "missing case 'auth_error' (expecting AuthError)" in text
    assert "missing case 'api_changed'" in text
    assert "case rate_limited: [expect] error is 'UnexpectedResponse'" in text
    no_after = RATE_LIMITED.replace('headers = { "Retry-After" = "30" }', "").replace(
        "error_retry_after = 30", ""
    )
    cases = {**GOOD_CASES, "rate_limited": no_after}
    info = make_collector(tmp_path / "b", cases=cases)
    with pytest.raises(ConformanceError, match="retry_after is not set"):
        await check_error_cases(info)
    offline = make_collector(tmp_path / "c", cls=Declared, cases={})
    await check_error_cases(offline)  # uses_network = False: exempt


@pytest.mark.parametrize(
    ("cls", "where"),
    [
        (LogsToken, "log record from 'toy' (DEBUG)"),
        (ErrorHasToken, "str() of UnexpectedResponse"),
        (CauseHasToken, "str() of ValueError"),
        (StateHasToken, "ctx.state"),
        (PlainToy, "repr(options)"),
    ],
)
async def test_check_no_secret_leaks_finds_each_leak(
    tmp_path: Path, cls: type[Any], where: str
) -> None:
    info = make_collector(tmp_path, cls=cls)
    with pytest.raises(ConformanceError) as caught:
        await check_no_secret_leaks(info)
    assert where in problems_of(caught)
    assert TOKEN not in str(caught.value)


async def test_check_no_secret_leaks_needs_long_fake_secrets(tmp_path: Path) -> None:
    short = {k: v.replace(TOKEN, "tok") for k, v in GOOD_CASES.items()}
    info = make_collector(tmp_path, cases=short)
    with pytest.raises(ConformanceError, match="shorter than 8 characters"):
        await check_no_secret_leaks(info)


def test_secret_values_walks_nested_options() -> None:
    class Header(BaseModel):
        value: SecretStr

    class Options(BaseModel):
        token: SecretStr
        headers: dict[str, Header]
        more: list[SecretStr]

    options = Options.model_validate(
        {"token": "aaaaaaaa", "headers": {"x": {"value": "bbbbbbbb"}}, "more": ["cccccccc"]}
    )
    assert sorted(secret_values(options)) == ["aaaaaaaa", "bbbbbbbb", "cccccccc"]


def test_check_docs(tmp_path: Path) -> None:
    info = make_collector(tmp_path, readme=None)
    with pytest.raises(ConformanceError, match=re.escape("README.md is missing")):
        check_docs(info)
    (info.folder / "README.md").write_text("# Toy\n\n## Permissions\n\n## Fixtures\nfrom docs\n")
    with pytest.raises(ConformanceError, match="section 'Permissions' is empty"):
        check_docs(info)
    (info.folder / "README.md").write_text("# Toy\n\n## Required permissions\nread\n")
    with pytest.raises(ConformanceError, match="no heading naming 'Fixtures'"):
        check_docs(info)
    (info.folder / "README.md").write_text(README)
    check_docs(info)
    write_case(info.folder / "tests" / "cases", "nosource", FIRST_POLL.replace("source =", "x ="))
    with pytest.raises(ConformanceError, match="unknown key"):
        check_docs(info)
    write_case(
        info.folder / "tests" / "cases",
        "nosource",
        FIRST_POLL.replace("source = ", "source = ' '#"),
    )
    with pytest.raises(ConformanceError, match=re.escape("case nosource: case.toml has no")):
        check_docs(info)


def test_check_docs_needs_cases(tmp_path: Path) -> None:
    info = make_collector(tmp_path, cases={})
    (info.folder / "tests" / "cases").mkdir(parents=True)
    with pytest.raises(ConformanceError, match="no cases in"):
        check_docs(info)
