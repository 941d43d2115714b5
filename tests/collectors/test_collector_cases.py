"""Every case of every installed collector, run on the fake provider (ids like "host/first_poll").

Collection never skips: a collector that fails to load, has a malformed cases folder or no
case at all yields a test that fails with the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from quota_watch.collect.registry import CollectorInfo, RegistryError, available, discover
from quota_watch.testing.cases import CaseFormatError, case_id, iter_cases, run_case


@functools.cache
def _info(name: str) -> CollectorInfo:
    return discover([name])[name]


def _cases() -> list[tuple[str, Path | str, str]]:
    """(collector, case folder or the problem that stops it, test id) for every case."""
    names = available()
    if not names:
        return [("", "no collector is installed", "<no collector installed>")]
    found: list[tuple[str, Path | str, str]] = []
    for name in names:
        try:
            folder = _info(name).folder
            cases = iter_cases(folder / "tests" / "cases")
        except (RegistryError, CaseFormatError) as exc:
            found.append((name, f"cannot list cases: {exc}", f"{name}/<error>"))
            continue
        if not cases:
            found.append((name, f"no cases in {folder / 'tests' / 'cases'}", f"{name}/<no cases>"))
        found.extend((name, case_dir, case_id(case_dir)) for case_dir in cases)
    return found


def _uses_network(name: str) -> bool:
    try:
        return bool(getattr(_info(name).cls, "uses_network", True))
    except RegistryError:
        return True  # test_case reports the problem


def _params(*, network_only: bool = False) -> list[object]:
    return [
        pytest.param(name, case, id=test_id)
        for name, case, test_id in _cases()
        if not network_only or _uses_network(name)
    ]


@pytest.mark.parametrize(("name", "case"), _params())
async def test_case(name: str, case: Path | str) -> None:
    if isinstance(case, str):
        pytest.fail(f"collector {name!r}: {case}")
    await run_case(_info(name), case)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "case"), _params(network_only=True))
async def test_case_over_loopback_http(name: str, case: Path | str) -> None:
    """The same case through a real socket: the collector's api_base points at a loopback
    server answering with the case's status codes, headers and bodies."""
    if isinstance(case, str):
        pytest.fail(f"collector {name!r}: {case}")
    await run_case(_info(name), case, over_http=True)
