"""The manual collector's cases, what it keeps in its state, and what it refuses to be set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.manual.collector import ManualCollector
from quota_watch_collectors.manual.options import ManualOptions

from quota_watch.sdk import SetValue, set_values
from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize("case_dir", iter_cases(HERE), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(ManualCollector, case_dir)


async def test_only_current_set_values_stay_in_the_state() -> None:
    result = await run_case(ManualCollector, HERE / "cases" / "ok_set_values")
    kept = {(v.limit, v.resource): (v.value, v.cap) for v in set_values(result.state)}
    assert kept == {("bandwidth", None): (62e9, None), ("cache_storage", "sessions"): (1.2e9, 4e9)}


def collector(**limits: dict[str, Any]) -> ManualCollector:
    options = ManualOptions.model_validate({"limits": limits})
    return ManualCollector(options, httpx.AsyncClient())


BANDWIDTH = {"title": "Bandwidth", "unit": "bytes", "measure": "cumulative", "period": "daily"}
PER_SITE = {"title": "Sites", "unit": "count", "measure": "level", "scope": "resource"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (SetValue("nope", 1, NOW), "no limit 'nope'"),
        (SetValue("fixed", 1, NOW), "has its value in the config"),
        (SetValue("sites", 1, NOW), "per resource: give --resource"),
        (SetValue("bandwidth", 1, NOW, resource="x"), "per account"),
    ],
)
def test_refused_set_values(value: SetValue, message: str) -> None:
    manual = collector(
        bandwidth=BANDWIDTH,
        sites=PER_SITE,
        fixed={"title": "Fixed", "unit": "count", "measure": "level", "value": 2},
    )
    with pytest.raises(ValueError, match=message):
        manual.accept_set(value)


def test_accepted_set_values() -> None:
    manual = collector(bandwidth=BANDWIDTH, sites=PER_SITE)
    manual.accept_set(SetValue("bandwidth", 1e9, NOW))
    manual.accept_set(SetValue("sites", 3, NOW, resource="blog"))


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({**PER_SITE, "value": 1}, "needs resource"),
        ({**BANDWIDTH, "value": 1, "resource": "x"}, "needs resource \\(and only then\\)"),
        ({**BANDWIDTH, "resource": "x"}, "give value too"),
        ({**BANDWIDTH, "value": "5 apples"}, "unknown suffix"),
    ],
)
def test_invalid_declarations(declared: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ManualOptions.model_validate({"limits": {"x": declared}})
