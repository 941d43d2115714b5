"""Unit tests of the vercel collector: cases, window, options and table, request, rows."""

from __future__ import annotations

import logging
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.vercel.client import format_instant
from quota_watch_collectors.vercel.collector import VercelCollector, usage_window
from quota_watch_collectors.vercel.options import (
    DEFAULT_SERVICES,
    LIMIT_KEYS,
    ServiceMatch,
    normalize_unit,
)
from quota_watch_collectors.vercel.tests.support import (
    FOLDER,
    NOW,
    TEAM,
    TOKEN,
    Recorder,
    answer,
    by_limit,
    collect,
    context,
    jsonl,
    options,
    row,
)

from quota_watch.sdk import NoData
from quota_watch.testing import iter_cases, run_case

# --- cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", iter_cases(FOLDER), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(VercelCollector, case_dir)


# --- the window -------------------------------------------------------------------------------


def test_window_is_thirty_la_days_ending_today() -> None:
    start, end = usage_window(NOW, 30, "America/Los_Angeles")
    # 2026-11-22T10:00Z is 02:00 PST on Nov 22; 29 days earlier is Oct 24, still PDT.
    assert start == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert end == NOW


def test_window_uses_the_local_date_not_the_utc_one() -> None:
    # 05:00Z on Nov 22 is still Nov 21 in Los Angeles (21:00 PST).
    start, _ = usage_window(datetime(2026, 11, 22, 5, 0, tzinfo=UTC), 1, "America/Los_Angeles")
    assert start == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_window_in_utc() -> None:
    start, _ = usage_window(NOW, 7, "UTC")
    assert start == datetime(2026, 11, 16, tzinfo=UTC)


def test_format_instant_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 10, 24, 0, 0, 0, 123456, tzinfo=UTC) + timedelta(hours=7)
    assert format_instant(moment) == "2026-10-24T07:00:00.123Z"


# --- options and the table --------------------------------------------------------------------


def test_table_covers_exactly_the_catalogue() -> None:
    with (FOLDER / "limits.toml").open("rb") as handle:
        catalogue = tomllib.load(handle)
    assert set(catalogue["limits"]) == LIMIT_KEYS


def test_account_tables_replace_only_their_own_limit() -> None:
    opts = options(services={"edge_requests": {"names": ["Requests"], "units": {"req": 1}}})
    assert opts.services["edge_requests"].names == ("Requests",)
    assert opts.services["fast_data_transfer"] == DEFAULT_SERVICES["fast_data_transfer"]


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        ({"bandwidth": {"names": ["X"], "units": {"GB": 1e9}}}, "unknown limit"),
        ({"edge_requests": {"names": ["Function Invocations"], "units": {"r": 1}}}, "both"),
        ({"edge_requests": {"names": ["Edge Requests"], "units": {}}}, "at least 1"),
        ({"edge_requests": {"names": ["Edge Requests"], "units": {"r": 0}}}, "> 0"),
        ({"edge_requests": {"names": [" "], "units": {"r": 1}}}, "empty"),
    ],
)
def test_bad_service_tables_are_refused(services: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        options(services=services)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"token": ""}, "empty"),
        ({"token": "abc def-ghijk"}, "whitespace"),
        ({"team_id": "team abc"}, "team id"),
        ({"api_base": "ftp://api.vercel.com"}, "http"),
        ({"api_base": "https://api.vercel.com/?x=1"}, "query"),
        ({"window_days": 0}, "greater than or equal"),
        ({"billing_tz": "Mars/Olympus"}, "time zone"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_bad_options_are_refused(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        options(**overrides)


def test_token_is_redacted_and_api_base_trimmed() -> None:
    opts = options(api_base="https://proxy.example/vercel/")
    assert opts.api_base == "https://proxy.example/vercel"
    assert TOKEN not in repr(opts)
    assert TOKEN not in opts.model_dump_json()


def test_units_match_ignoring_case_spaces_and_dashes() -> None:
    factors = ServiceMatch(names=("X",), units={"GB-Hours": 3600}).unit_factors()
    assert factors[normalize_unit("gb hours")] == 3600
    assert factors[normalize_unit("GB_HOURS")] == 3600


# --- request ----------------------------------------------------------------------------------


async def test_request_carries_window_team_token_and_accept() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder)
    (request,) = recorder.requests
    assert request.url.path == "/v1/billing/charges"
    assert dict(request.url.params) == {
        "from": "2026-10-24T07:00:00.000Z",
        "to": "2026-11-22T10:00:00.000Z",
        "teamId": TEAM,
    }
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/jsonl"


async def test_no_team_id_sends_no_team_parameter() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder, team_id=None)
    assert "teamId" not in recorder.requests[0].url.params


async def test_api_base_path_is_kept() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder, api_base="https://proxy.example/vercel")
    assert recorder.requests[0].url.path == "/vercel/v1/billing/charges"


# --- rows -------------------------------------------------------------------------------------


async def test_sums_and_converts_per_limit_with_period_start() -> None:
    body = jsonl(
        row("Edge Requests", 10, "Requests"),
        row("edge  REQUESTS", 5, "requests"),
        row("Fast Data Transfer", 900, "MB"),
        row("Fast Data Transfer", "2", "GB"),  # FOCUS decimals may arrive as strings
        row("Active CPU", 1.5, "CPU-Hours"),
    )
    readings = await collect(answer(body))
    assert by_limit(readings) == {
        "edge_requests": 15.0,
        "fast_data_transfer": 2.9e9,
        "active_cpu": 5400.0,
    }
    assert {r.period_start for r in readings} == {datetime(2026, 10, 24, 7, tzinfo=UTC)}
    assert all(r.cap is None for r in readings)


async def test_rows_that_are_not_usage_are_ignored() -> None:
    body = jsonl(
        row("Edge Requests", 10, "Requests"),
        row("Edge Requests", None, None, ChargeCategory="Credit"),
        row("Fast Data Transfer", 99, "GB", ChargeCategory="Adjustment"),
    )
    assert by_limit(await collect(answer(body))) == {"edge_requests": 10.0}


async def test_usage_rows_without_quantity_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", None, None))
    with caplog.at_level(logging.INFO):
        readings = await collect(answer(body))
    assert by_limit(readings) == {"edge_requests": 10.0}
    assert "fast_data_transfer (1 rows without ConsumedQuantity)" in caplog.text


async def test_a_negative_total_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", -3, "GB"))
    readings = await collect(answer(body))
    assert by_limit(readings) == {"edge_requests": 10.0}
    assert "fast_data_transfer left out" in caplog.text


async def test_a_switched_off_limit_is_neither_read_nor_zeroed() -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", 1, "GB"))
    readings = await collect(
        answer(body),
        absent_service_is_zero=True,
        services={"fast_data_transfer": {"names": [], "units": {"GB": 1e9}}},
    )
    values = by_limit(readings)
    assert "fast_data_transfer" not in values
    assert values["edge_requests"] == 10.0
    assert values["function_invocations"] == 0.0


async def test_unknown_services_are_logged_once_per_collector(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jsonl(row("Edge Requests", 1, "Requests"), row("Blob Operations", 3, "Operations"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer(body))) as client:
        collector = VercelCollector(options(), client)
        with caplog.at_level(logging.DEBUG):
            await collector.collect(context())
            await collector.collect(context())
    mentions = [r for r in caplog.records if "Blob Operations" in r.getMessage()]
    assert len(mentions) == 1
    assert mentions[0].levelno == logging.DEBUG


async def test_absent_limits_are_logged_at_info_only_when_they_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jsonl(row("Edge Requests", 1, "Requests"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer(body))) as client:
        collector = VercelCollector(options(), client)
        with caplog.at_level(logging.DEBUG):
            await collector.collect(context())
            await collector.collect(context())
    levels = [r.levelno for r in caplog.records if "left out (no rows" in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG]


async def test_empty_body_is_no_data_never_zero() -> None:
    with pytest.raises(NoData, match="no usage rows for this Hobby team"):
        await collect(answer(b"\n\n"), absent_service_is_zero=True)
