"""The upstash collector's cases, over the fake provider and a real socket; Go times; options."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from quota_watch_collectors.upstash.collector import UpstashCollector
from quota_watch_collectors.upstash.models import parse_go_time
from quota_watch_collectors.upstash.options import UpstashOptions

from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
KEY = "fake-upstash-management-key-0123456789"


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(UpstashCollector, case_dir)


@pytest.mark.parametrize("case_name", ["ok", "go_time_nanoseconds", "auth_error", "rate_limited"])
async def test_case_over_a_real_socket(case_name: str) -> None:
    await run_case(UpstashCollector, HERE / "cases" / case_name, over_http=True)


async def test_basic_auth_is_email_and_key() -> None:
    result = await run_case(UpstashCollector, HERE / "cases" / "ok")
    expected = base64.b64encode(f"dev@example.com:{KEY}".encode()).decode()
    assert {r.headers["authorization"] for r in result.requests} == {f"Basic {expected}"}


async def test_neither_the_key_nor_the_basic_pair_reaches_an_error() -> None:
    result = await run_case(UpstashCollector, HERE / "cases" / "auth_error")
    pair = base64.b64encode(f"dev@example.com:{KEY}".encode()).decode()
    assert KEY not in str(result.error)
    assert pair not in str(result.error)
    assert "Unauthorized" in str(result.error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-16 00:00:00 +0000 UTC", datetime(2026, 8, 16, tzinfo=UTC)),
        (
            "2026-08-21 15:12:52.799480932 +0000 UTC",
            datetime(2026, 8, 21, 15, 12, 52, 799480, tzinfo=UTC),
        ),
        (
            "2026-12-03 01:00:00.5 +0200 EET m=+0.000123",
            datetime(2026, 12, 2, 23, 0, 0, 500000, UTC),
        ),
        ("2026-12-03 00:00:00 -0130 -0130", datetime(2026, 12, 3, 1, 30, tzinfo=UTC)),
        ("2026-12-03T00:00:00Z", datetime(2026, 12, 3, tzinfo=UTC)),
    ],
)
def test_go_time_strings(text: str, expected: datetime) -> None:
    assert parse_go_time(text) == expected


def test_a_string_that_is_no_time_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Go time"):
        parse_go_time("yesterday")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"email": "nobody"}, "not an e-mail"),
        ({"api_base": "ftp://x"}, "http"),
        ({"database_ids": []}, "at least one"),
        ({"database_ids": ["a", "a"]}, "twice"),
        ({"database_ids": ["a b"]}, "not a database id"),
    ],
)
def test_invalid_options_are_refused(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        UpstashOptions.model_validate({"email": "dev@example.com", "token": KEY, **extra})
