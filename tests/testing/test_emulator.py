"""The provider emulator over real loopback HTTP: growth, faults, auth, determinism, concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jmespath
import pytest

from quota_watch.config.load import validate_config
from quota_watch.sdk import AuthError, CollectContext, Measure, RateLimited, Unit
from quota_watch.testing.emulator import (
    EmulatedAccount,
    EmulatedLimit,
    Emulator,
    Faults,
    ManualClock,
    demo_accounts,
)

pytestmark = pytest.mark.slow  # the emulator served over real loopback HTTP

TOKEN = "emulated-token-0123456789"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _account(faults: Faults | None = None) -> EmulatedAccount:
    return EmulatedAccount(
        "acct-a",
        TOKEN,
        {
            "requests": EmulatedLimit(start_value=100, growth_per_hour=50, cap=1000),
            "storage": EmulatedLimit(
                start_value=1e6,
                growth_per_hour=-2e5,
                unit=Unit.BYTES,
                measure=Measure.LEVEL,
                period="none",
            ),
            "worker_requests": EmulatedLimit(
                start_value=10, growth_per_hour=1, cap=500, resources=["api", "web"]
            ),
        },
        faults=faults,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator([_account()], clock=clock, seed=1) as running:
        yield running


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get(emulator: Emulator, token: str = TOKEN, wait: float = 10) -> httpx.Response:
    async with httpx.AsyncClient(timeout=wait) as client:
        return await client.get(emulator.usage_url("acct-a"), headers=_auth(token))


async def test_usage_grows_with_the_injected_clock(emulator: Emulator, clock: ManualClock) -> None:
    first = await _get(emulator)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {
        "account": "acct-a",
        "as_of": "2026-11-22T10:00:00Z",
        "limits": {
            "requests": {"used": 100.0, "cap": 1000.0},
            "storage": {"used": 1e6, "cap": None},
            "worker_requests": {
                "resources": [{"name": "api", "used": 10.0}, {"name": "web", "used": 10.0}],
                "cap": 500.0,
            },
        },
    }
    clock.advance(hours=2, minutes=30)
    later = (await _get(emulator)).json()
    assert later["as_of"] == "2026-11-22T12:30:00Z"
    assert later["limits"]["requests"]["used"] == pytest.approx(225.0)
    assert later["limits"]["storage"]["used"] == pytest.approx(5e5)
    assert later["limits"]["worker_requests"]["resources"][1]["used"] == pytest.approx(12.5)
    clock.advance(hours=10)
    assert (await _get(emulator)).json()["limits"]["storage"]["used"] == 0.0, "never negative"
    assert emulator.stats == {"acct-a": {"ok": 3}}


async def test_auth_is_checked(emulator: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.get(emulator.usage_url("acct-a"))
        wrong = await client.get(emulator.usage_url("acct-a"), headers=_auth("nope"))
        basic = await client.get(
            emulator.usage_url("acct-a"), headers={"Authorization": f"Basic {TOKEN}"}
        )
        unknown = await client.get(f"{emulator.base_url}/v1/accounts/ghost/usage")
        health = await client.get(f"{emulator.base_url}/healthz")
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in response.text
    assert unknown.status_code == 404
    assert health.json() == {"ok": True}
    emulator.set_faults("acct-a", Faults(auth_fail=True))
    assert (await _get(emulator)).status_code == 401, "auth_fail rejects even the right token"
    assert emulator.stats["acct-a"] == {"auth_failed": 4}


async def test_each_fault_kind(emulator: Emulator) -> None:
    emulator.set_faults("acct-a", Faults(error_rate=1.0))
    error = await _get(emulator)
    assert error.status_code == 503
    assert error.json() == {"error": "service unavailable"}

    emulator.set_faults("acct-a", Faults(rate_limit_rate=1.0, retry_after=7))
    limited = await _get(emulator)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"

    emulator.set_faults("acct-a", Faults(malformed_rate=1.0))
    malformed = await _get(emulator)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    assert json.dumps(emulator.usage("acct-a")).startswith(malformed.text)

    emulator.set_faults("acct-a", Faults(timeout_rate=1.0, hang=0.6))
    with pytest.raises(httpx.ReadTimeout):
        await _get(emulator, wait=0.2)
    began = time.monotonic()
    hung = await _get(emulator, wait=5)
    assert hung.status_code == 200
    assert time.monotonic() - began >= 0.6

    emulator.set_faults("acct-a", Faults(latency=0.3))
    began = time.monotonic()
    assert (await _get(emulator)).status_code == 200
    assert time.monotonic() - began >= 0.3

    assert emulator.stats["acct-a"] == {
        "error": 1,
        "rate_limited": 1,
        "malformed": 1,
        "timeout": 2,
        "ok": 1,
    }
    emulator.reset_stats()
    assert emulator.stats == {"acct-a": {}}


async def test_global_and_per_account_faults(clock: ManualClock) -> None:
    quiet = EmulatedAccount("quiet", "quiet-token-123456", {"x": EmulatedLimit()}, faults=Faults())
    with Emulator([_account(), quiet], faults=Faults(error_rate=1.0), clock=clock) as emulator:
        async with httpx.AsyncClient() as client:
            noisy = await client.get(emulator.usage_url("acct-a"), headers=_auth())
            calm = await client.get(
                emulator.usage_url("quiet"), headers=_auth("quiet-token-123456")
            )
            emulator.set_faults(None, Faults())
            healed = await client.get(emulator.usage_url("acct-a"), headers=_auth())
    assert (noisy.status_code, calm.status_code, healed.status_code) == (503, 200, 200)
    assert emulator.faults_for("quiet") == Faults()


async def _statuses(seed: int, count: int = 40) -> list[int]:
    faults = Faults(error_rate=0.3, rate_limit_rate=0.2, malformed_rate=0.2)
    with Emulator([_account(faults)], seed=seed) as emulator:
        async with httpx.AsyncClient() as client:
            statuses = []
            for _ in range(count):
                response = await client.get(emulator.usage_url("acct-a"), headers=_auth())
                malformed = response.status_code == 200 and not response.text.endswith("}")
                statuses.append(-1 if malformed else response.status_code)
    return statuses


async def test_faults_are_deterministic_per_seed() -> None:
    first, again, other = await _statuses(5), await _statuses(5), await _statuses(6)
    assert first == again
    assert first != other
    assert {200, 429, 503, -1} == set(first), "every outcome occurs in 40 draws"


async def test_500_concurrent_requests_do_not_block_each_other() -> None:
    accounts = demo_accounts(5)
    # One httpx pool with hundreds of waiting requests is itself slow (httpcore scans its
    # queue per request), so the load is spread over 50 clients of 10 connections each.
    context = ssl.create_default_context()
    with Emulator(accounts, faults=Faults(latency=1.0)) as emulator:

        async def batch(index: int) -> list[int]:
            account = accounts[index % len(accounts)]
            limits = httpx.Limits(max_connections=10)
            async with httpx.AsyncClient(limits=limits, verify=context, timeout=30) as client:
                responses = await asyncio.gather(
                    *(
                        client.get(emulator.usage_url(account.name), headers=_auth(account.token))
                        for _ in range(10)
                    )
                )
            return [r.status_code for r in responses]

        results = await asyncio.gather(*(batch(i) for i in range(50)))
    assert [s for batch_ in results for s in batch_] == [200] * 500
    # A server that blocks answers one slow request at a time; this one had many in its sleep
    # at once (a count, not a clock: the test holds on a loaded machine).
    # (A blocking server peaks at 1; 10 leaves room for slow TLS handshakes under load.)
    assert emulator.peak_in_flight >= 10, emulator.peak_in_flight
    assert sum(sum(per.values()) for per in emulator.stats.values()) == 500


async def test_http_json_options_pick_the_right_values(
    emulator: Emulator, clock: ManualClock
) -> None:
    options = emulator.http_json_options("acct-a")
    assert options["url"] == emulator.usage_url("acct-a")
    assert options["headers"] == {"Authorization": f"Bearer {TOKEN}"}
    clock.advance(hours=4)
    async with httpx.AsyncClient() as client:
        response = await client.request(
            options["method"], options["url"], headers=options["headers"]
        )
    document = response.json()
    requests = options["limits"]["requests"]
    assert jmespath.search(requests["value"], document) == 300.0
    assert jmespath.search(requests["cap_path"], document) == 1000.0
    assert requests["scope"] == "account"
    assert "cap_path" not in options["limits"]["storage"], "no cap, so no cap_path"
    workers = options["limits"]["worker_requests"]
    items = jmespath.search(workers["for_each"], document)
    assert [
        (jmespath.search(workers["resource"], i), jmespath.search(workers["value"], i))
        for i in items
    ] == [
        ("api", 14.0),
        ("web", 14.0),
    ]
    assert (workers["scope"], workers["cap"]) == ("resource", 500.0)


async def test_http_json_collector_reads_the_emulator(
    emulator: Emulator, clock: ManualClock
) -> None:
    from quota_watch_collectors.http_json.collector import HttpJsonCollector
    from quota_watch_collectors.http_json.options import HttpJsonOptions

    options = HttpJsonOptions.model_validate(emulator.http_json_options("acct-a"))
    clock.advance(hours=1)
    async with httpx.AsyncClient() as client:
        collector = HttpJsonCollector(options, client)
        ctx = CollectContext(account="acct-a", now=clock(), periods={})
        readings = await collector.collect(ctx)
        got = {(r.limit, r.resource): (r.value, r.cap) for r in readings}
        assert got == {
            ("requests", None): (150.0, 1000.0),
            ("storage", None): (8e5, None),
            ("worker_requests", "api"): (11.0, None),
            ("worker_requests", "web"): (11.0, None),
        }
        emulator.set_faults("acct-a", Faults(auth_fail=True))
        with pytest.raises(AuthError):
            await collector.collect(ctx)
        emulator.set_faults("acct-a", Faults(rate_limit_rate=1.0, retry_after=9))
        with pytest.raises(RateLimited) as limited:
            await collector.collect(ctx)
        assert limited.value.retry_after == 9.0


def test_config_toml_is_a_valid_daemon_config(emulator: Emulator) -> None:
    text = emulator.config_toml(
        interval="2m", store_url="sqlite:////tmp/qw-emulator.db", listen="127.0.0.1:0", group="pool"
    )
    data = tomllib.loads(text)
    assert data["server"] == {"listen": "127.0.0.1:0"}
    assert data["store"] == {"url": "sqlite:////tmp/qw-emulator.db"}
    [account] = data["accounts"]
    assert (account["name"], account["collector"], account["interval"], account["group"]) == (
        "acct-a",
        "http_json",
        "2m",
        "pool",
    )
    assert account["options"] == emulator.http_json_options("acct-a")
    config = validate_config(data, None, env={})
    assert [(a.name, a.collector, a.interval) for a in config.accounts] == [
        ("acct-a", "http_json", timedelta(minutes=2))
    ]


def test_config_toml_escapes_dollars() -> None:
    account = EmulatedAccount("acct-d", "to$ken-${NOT_A_VAR}", {"x": EmulatedLimit()})
    with Emulator([account]) as emulator:
        data = tomllib.loads(emulator.config_toml())
    config = validate_config(data, None, env={})
    options = config.account("acct-d").options
    headers = options.model_dump()["headers"]
    assert headers["Authorization"].get_secret_value() == "Bearer to$ken-${NOT_A_VAR}"


def test_invalid_definitions_are_rejected() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        Faults(error_rate=0.6, rate_limit_rate=0.6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults(malformed_rate=-0.1)
    with pytest.raises(ValueError, match="account names"):
        EmulatedAccount("has space", "t", {})
    with pytest.raises(ValueError, match="limit 'Bad-Name'"):
        EmulatedAccount("ok", "t", {"Bad-Name": EmulatedLimit()})
    with pytest.raises(ValueError, match="twice"):
        Emulator([_account(), _account()])
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))


@pytest.mark.slow
def test_runs_from_the_command_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "quota_watch.testing.emulator", "--accounts", "2", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("emulator serving 2 account(s) at http://127.0.0.1:"), first
        base = first.rsplit(" ", 1)[1].strip()
        token = demo_accounts(2)[1].token
        response = httpx.get(f"{base}/v1/accounts/acct-02/usage", headers=_auth(token))
        assert response.status_code == 200
        assert set(response.json()["limits"]) == {"requests", "storage", "worker_requests"}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert process.returncode == 0
