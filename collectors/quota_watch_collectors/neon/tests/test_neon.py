"""Unit tests of the neon collector: cases, options, and the documentation's example figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from quota_watch_collectors.neon.collector import NeonCollector
from quota_watch_collectors.neon.options import NeonOptions

from quota_watch.testing import iter_cases, run_case

CASES = Path(__file__).parent / "cases"
TOKEN = "napi_fake0123456789abcdefghijkl"


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(NeonCollector, case_dir)


async def test_ok_case_reads_the_documented_example_as_hours_and_mebibytes() -> None:
    result = await run_case(NeonCollector, CASES / "ok")
    assert result.readings is not None
    values = {r.limit: r.value for r in result.readings}
    assert values["compute_time"] / 3600 == 24.0  # 86400 CU-seconds = 24 CU-hours
    assert values["active_time"] / 3600 == 48.0
    assert values["storage"] / 2**20 == 40.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"project_ids": ["bad/id"]},
        {"project_ids": ["a-1", "a-1"]},
        {"org_id": "org?x"},
        {"api_base": "https://user:pw@console.neon.tech/api/v2"},
        {"api_base": "ftp://console.neon.tech"},
        {"page_size": 401},
        {"unknown": 1},
    ],
)
def test_options_reject(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NeonOptions.model_validate({"token": TOKEN, **overrides})


def test_options_hide_the_token() -> None:
    options = NeonOptions.model_validate({"token": TOKEN})
    assert TOKEN not in repr(options)
    assert options.api_base == "https://console.neon.tech/api/v2"
