"""Every case of every installed collector, run on the fake provider (ids like "host/first_poll").

Collection never skips: a collector that fails to load, has a malformed cases folder or no
case at all yields a test that fails with the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from quota_watch.registry import CollectorInfo, RegistryError, available, discover
from quota_watch.testing.cases import CaseFormatError, case_id, iter_cases, run_case


@functools.cache
def _info(name: str) -> CollectorInfo:
    return discover([name])[name]


def _params() -> list[object]:
    names = available()
    if not names:
        return [pytest.param("", "no collector is installed", id="<no collector installed>")]
    params: list[object] = []
    for name in names:
        try:
            folder = _info(name).folder
            cases = iter_cases(folder / "tests" / "cases")
        except (RegistryError, CaseFormatError) as exc:
            params.append(pytest.param(name, f"cannot list cases: {exc}", id=f"{name}/<error>"))
            continue
        if not cases:
            problem = f"no cases in {folder / 'tests' / 'cases'}"
            params.append(pytest.param(name, problem, id=f"{name}/<no cases>"))
        params.extend(pytest.param(name, case_dir, id=case_id(case_dir)) for case_dir in cases)
    return params


@pytest.mark.parametrize(("name", "case"), _params())
async def test_case(name: str, case: Path | str) -> None:
    if isinstance(case, str):
        pytest.fail(f"collector {name!r}: {case}")
    await run_case(_info(name), case)
