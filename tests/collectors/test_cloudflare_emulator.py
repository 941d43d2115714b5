"""The Cloudflare emulator over real loopback HTTP, polled by the real cloudflare collector."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from quota_watch_collectors.cloudflare.emulator import (
    BudgetPolicy,
    CloudflareAccount,
    CloudflareEmulator,
    GraphQLSyntaxError,
    Rate,
    parse_graphql,
)

from quota_watch.collect.poller import Poller
from quota_watch.collect.runtime import AccountRuntime, build_runtimes, http_client
from quota_watch.config.load import validate_config
from quota_watch.config.settings import Config
from quota_watch.sdk import AuthError
from quota_watch.store.facade import Store
from quota_watch.testing.emulator import ManualClock

pytestmark = pytest.mark.slow  # the emulator served over real loopback HTTP

MIDNIGHT = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
ID_A = "a" * 32
ID_B = "0123456789abcdef0123456789abcdef"
TOKEN_A = "cf-emulated-token-a-0123456789"
TOKEN_B = "cf-emulated-token-b-9876543210"


def _accounts() -> list[CloudflareAccount]:
    return [
        CloudflareAccount(
            "cf-a",
            ID_A,
            TOKEN_A,
            workers=Rate(per_hour=3_600),
            scripts={"api": 3.0, "web": 1.0},
            pages_functions_share=0.1,
            cpu_time_p99_us=4_500,
            usage={
                "kv_reads": Rate(per_hour=1_000),
                "kv_writes": Rate(per_hour=10),
                "d1_rows_read": Rate(per_hour=50_000),
                "d1_rows_written": Rate(per_hour=300),
                "do_duration": Rate(per_hour=20.5),
                "queues_operations": Rate(per_hour=60),
                "r2_class_a_operations": Rate(per_hour=100),
                "r2_class_b_operations": Rate(per_hour=1_000),
            },
            storage={
                "r2_storage": {"assets": 2e9, "backups": 5e8},
                "d1_storage": {"db-main": 4.8e7},
                "kv_storage": {"ns1": 1.2e7},
                "do_storage": {"ns-do": 9.6e6},
            },
            pages={
                "site": [
                    datetime(2026, 10, 30, 8, 0, tzinfo=UTC),  # last month: not counted
                    datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
                    datetime(2026, 11, 21, 18, 0, tzinfo=UTC),
                    datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
                    datetime(2026, 11, 22, 23, 0, tzinfo=UTC),  # not yet created
                ]
            },
        ),
        CloudflareAccount("cf-b", ID_B, TOKEN_B, workers=Rate.daily_total(120_000, growth=1.5)),
    ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MIDNIGHT)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[CloudflareEmulator]:
    with CloudflareEmulator(_accounts(), clock=clock) as running:
        yield running


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the shared `store` fixture opens this one."""
    return f"sqlite:///{tmp_path / 'qw.db'}"


def _config(emulator: CloudflareEmulator, **overrides: dict[str, Any]) -> Config:
    accounts = []
    for name in emulator.accounts:
        options = emulator.collector_options(name) | overrides.get(name, {})
        accounts.append(
            {"name": name, "collector": "cloudflare", "group": "edge", "options": options}
        )
    return validate_config({"accounts": accounts}, None, {})


async def _poll(
    emulator: CloudflareEmulator, store: Store, clock: ManualClock, **overrides: dict[str, Any]
) -> dict[str, Any]:
    config = _config(emulator, **overrides)
    async with http_client(config) as client:
        runtimes = build_runtimes(config, client)
        poller = Poller(store, clock)
        return {name: await poller.poll(rt) for name, rt in runtimes.items()}


def _values(result: Any) -> dict[tuple[str, str | None], float]:
    return {(r.limit, r.resource): r.value for r in result.readings}


async def test_collector_reads_the_profiles_at_the_clock_time(
    emulator: CloudflareEmulator, store: Store, clock: ManualClock
) -> None:
    first = await _poll(emulator, store, clock)
    assert first["cf-a"].outcome == "success", first["cf-a"].error
    assert _values(first["cf-a"])[("workers_requests", None)] == 0.0
    clock.advance(hours=10)
    results = await _poll(emulator, store, clock)
    a, b = results["cf-a"], results["cf-b"]
    assert a.outcome == b.outcome == "success", (a.error, b.error)
    values = _values(a)
    # 3,600 requests an hour for 10 hours, shared between two scripts and Pages Functions.
    assert values[("workers_requests", None)] == 36_000.0
    assert emulator.workers_requests("cf-a") == 36_000
    assert values[("workers_cpu_p99", "api")] == pytest.approx(0.0045)
    assert values[("workers_cpu_p99", "web")] == pytest.approx(0.0045)
    assert values[("kv_reads", None)] == 10_000.0
    assert values[("kv_writes", None)] == 100.0
    assert values[("kv_deletes", None)] == 0.0
    assert values[("d1_rows_read", None)] == 500_000.0
    assert values[("d1_rows_written", None)] == 3_000.0
    assert values[("do_duration", None)] == pytest.approx(205.0)
    assert values[("do_requests", None)] == 0.0
    assert values[("queues_operations", None)] == 600.0
    # R2 operations since the 1st (21 days and 10 hours), asked in 7-day windows.
    hours = 21 * 24 + 10
    assert values[("r2_class_a_operations", None)] == 100.0 * hours
    assert values[("r2_class_b_operations", None)] == 1_000.0 * hours
    assert values[("r2_storage", None)] == 2.5e9
    assert values[("d1_storage", "db-main")] == 4.8e7
    assert values[("kv_storage", None)] == 1.2e7
    assert values[("do_storage", None)] == 9.6e6
    assert values[("pages_builds", None)] == 3.0  # 2 Nov, 21 Nov, 22 Nov 09:00
    # cf-b: 120,000 over its first day, growing 1.5x a day: the integral up to 10:00.
    expected_b = math.floor(120_000 * (1.5 ** (10 / 24) - 1) / 0.5)
    assert _values(b)[("workers_requests", None)] == float(expected_b)
    latest = {(r.account, r.limit): r.value for r in await store.latest()}
    assert latest[("cf-b", "workers_requests")] == float(expected_b)
    assert latest[("cf-a", "workers_requests")] == 36_000.0


async def test_daily_counters_restart_at_midnight_and_grow_by_day(
    emulator: CloudflareEmulator,
) -> None:
    b = emulator.account("cf-b")
    day_one = emulator.workers_requests(
        "cf-b", MIDNIGHT + timedelta(hours=23, minutes=59, seconds=59)
    )
    assert day_one == pytest.approx(120_000, abs=5)
    assert emulator.workers_requests("cf-b", MIDNIGHT + timedelta(days=1)) == 0
    day_two = b.workers.amount(MIDNIGHT + timedelta(days=1), MIDNIGHT + timedelta(days=2), MIDNIGHT)
    assert day_two == pytest.approx(180_000)
    split = b.workers_split(MIDNIGHT, MIDNIGHT + timedelta(hours=7), MIDNIGHT)
    assert sum(split.values()) == emulator.workers_requests("cf-b", MIDNIGHT + timedelta(hours=7))


async def test_bad_token_is_an_auth_failure(
    emulator: CloudflareEmulator, store: Store, clock: ManualClock
) -> None:
    clock.advance(hours=1)
    results = await _poll(emulator, store, clock, **{"cf-a": {"token": "not-a-valid-token"}})
    assert results["cf-a"].outcome == "auth"
    assert "HTTP 401" in (results["cf-a"].error or "")
    assert "not-a-valid-token" not in (results["cf-a"].error or "")
    assert results["cf-b"].outcome == "success"
    statuses = {s.account: s for s in await store.account_statuses()}
    assert statuses["cf-a"].last_outcome == "auth"
    assert emulator.stats[("?", "graphql:auth_failed")] == 1


async def test_token_of_another_account_is_not_authorized(
    emulator: CloudflareEmulator, store: Store, clock: ManualClock
) -> None:
    results = await _poll(emulator, store, clock, **{"cf-b": {"token": TOKEN_A}})
    assert results["cf-b"].outcome == "auth"
    assert "not authorized for that account" in (results["cf-b"].error or "")


async def test_pages_of_another_account_are_forbidden(emulator: CloudflareEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_base) as client:
        answer = await client.get(
            f"/accounts/{ID_B}/pages/projects",
            params={"page": "1"},
            headers={"Authorization": f"Bearer {TOKEN_A}"},
        )
    assert answer.status_code == 403
    assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]


async def test_probe_verifies_user_and_account_tokens(emulator: CloudflareEmulator) -> None:
    config = _config(emulator, **{"cf-b": {"token_kind": "account"}})
    async with http_client(config) as client:
        runtimes: dict[str, AccountRuntime] = build_runtimes(config, client)
        await runtimes["cf-a"].collector.probe()
        await runtimes["cf-b"].collector.probe()
    bad = _config(emulator, **{"cf-a": {"token": "wrong-token-000"}})
    async with http_client(bad) as client:
        with pytest.raises(AuthError, match="HTTP 401"):
            await build_runtimes(bad, client)["cf-a"].collector.probe()
    assert emulator.stats[("cf-a", "verify:ok")] == 1
    assert emulator.stats[("cf-b", "verify:ok")] == 1


async def test_spent_graphql_budget_is_rate_limited(clock: ManualClock, store: Store) -> None:
    with CloudflareEmulator(
        _accounts()[1:], clock=clock, graphql_budget=BudgetPolicy(2, 300)
    ) as emulator:
        outcomes = [(await _poll(emulator, store, clock))["cf-b"] for _ in range(3)]
        assert [r.outcome for r in outcomes] == ["success", "success", "rate_limited"]
        assert outcomes[2].retry_after == 300.0
        clock.advance(minutes=5)
        assert (await _poll(emulator, store, clock))["cf-b"].outcome == "success"


async def test_graphql_errors_have_the_recorded_shapes(emulator: CloudflareEmulator) -> None:
    query = (
        "query Q($tag: string!) { viewer { accounts(filter: {accountTag: $tag}) {"
        ' w: workersInvocationsAdaptive(limit: 10, filter: {datetime_geq: "2026-11-22T00:00:00Z",'
        ' datetime_lt: "2026-11-22T01:00:00Z"}) { sum { requests } }'
        " x: noSuchDataset(limit: 1) { sum { requests } } } } }"
    )
    body = {"operationName": "Q", "query": query, "variables": {"tag": ID_A}}
    async with httpx.AsyncClient(base_url=emulator.api_base) as client:
        answer = await client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {TOKEN_A}"}
        )
        unauthorized = await client.post("/graphql", json=body)
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["data"] is None
    assert payload["errors"][0]["message"] == 'unknown field "noSuchDataset"'
    assert payload["errors"][0]["path"] == ["viewer", "accounts", "0", "x"]
    assert unauthorized.status_code == 401
    assert unauthorized.json()["errors"][0]["message"] == "Unauthorized"


async def test_grouping_follows_the_selected_dimensions(
    emulator: CloudflareEmulator, clock: ManualClock
) -> None:
    clock.advance(hours=2)
    query = (
        '{ viewer { accounts(filter: {accountTag: "TAG"}) {'
        ' all: workersInvocationsAdaptive(limit: 10, filter: {datetime_geq: "2026-11-22T00:00:00Z",'
        ' datetime_lt: "2026-11-23T00:00:00Z"}) { sum { requests } }'
        ' api: workersInvocationsAdaptive(limit: 10, filter: {scriptName: "api",'
        ' datetime_geq: "2026-11-22T01:00:00Z", datetime_lt: "2026-11-23T00:00:00Z"})'
        " { sum { requests } dimensions { scriptName } } } } }"
    ).replace("TAG", ID_A)
    async with httpx.AsyncClient(base_url=emulator.api_base) as client:
        answer = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {TOKEN_A}"}
        )
    account = answer.json()["data"]["viewer"]["accounts"][0]
    # Two hours of 3,600/h less the Pages Functions' 10 %, in one group: no dimension asked.
    assert account["all"] == [{"sum": {"requests": 6_480}}]
    # One hour (01:00-02:00, clipped to now), api's 3 of 4 shares of the Workers' 90 %.
    assert account["api"] == [{"sum": {"requests": 2_430}, "dimensions": {"scriptName": "api"}}]


def test_parser_rejects_what_it_does_not_serve() -> None:
    with pytest.raises(GraphQLSyntaxError, match="fragments"):
        parse_graphql("{ viewer { ...F } }")
    with pytest.raises(GraphQLSyntaxError, match="mutation"):
        parse_graphql("mutation M { x }")
    with pytest.raises(GraphQLSyntaxError, match="expected"):
        parse_graphql("{ viewer { accounts(filter: {a: 1) } }")
    root = parse_graphql('query A { a: b(x: [1, 2.5, "s", $v, true]) { c } }')
    assert root[0].alias == "a" and root[0].name == "b"


def test_account_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="account_id"):
        CloudflareAccount("x", "not-hex", "token")
    with pytest.raises(ValueError, match="unknown usage"):
        CloudflareAccount("x", ID_A, "token", usage={"workers_requests": Rate(1)})
    with pytest.raises(ValueError, match="growth"):
        Rate(1, growth=0)


async def test_optional_parts_of_the_query_follow_the_options(
    emulator: CloudflareEmulator, store: Store, clock: ManualClock
) -> None:
    clock.advance(hours=4)
    options = {
        "include_pages_functions": False,
        "do_duration": "activeTime",
        "include_do_sql": False,
        "include_pages_builds": False,
    }
    result = (await _poll(emulator, store, clock, **{"cf-a": options}))["cf-a"]
    assert result.outcome == "success", result.error
    values = _values(result)
    # Without Pages Functions, the Workers scripts' 90 % of 4 x 3,600 requests remain.
    assert values[("workers_requests", None)] == 12_960.0
    # activeTime (microseconds) read back as GB-s of 128 MB objects: 4 x 20.5 GB-s.
    assert values[("do_duration", None)] == pytest.approx(82.0)
    assert ("do_rows_read", None) not in values and ("do_storage", None) not in values
    assert ("pages_builds", None) not in values
