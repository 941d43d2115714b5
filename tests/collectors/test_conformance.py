"""The conformance suite, run over every installed collector (group quota_watch.collectors).

Nothing here skips: a collector that cannot be loaded, or no collector at all, is a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import pytest

from quota_watch.collect.registry import CollectorInfo, available, discover
from quota_watch.testing import conformance

BUILT_IN = {"host", "http_json"}
NAMES = available()
# An empty parameter list would make pytest skip; a sentinel name makes it fail instead.
PARAMS = NAMES or ["<no collector installed>"]


@functools.cache
def _info(name: str) -> CollectorInfo:
    if name not in NAMES:
        pytest.fail("no collector is installed (entry-point group quota_watch.collectors)")
    return discover([name])[name]


def test_built_in_collectors_are_installed() -> None:
    missing = BUILT_IN - set(NAMES)
    assert not missing, f"built-in collectors not registered as entry points: {sorted(missing)}"


@pytest.mark.parametrize("name", PARAMS)
def test_loads_through_the_registry(name: str) -> None:
    info = _info(name)
    assert info.name == name


@pytest.mark.parametrize("name", PARAMS)
def test_identity(name: str) -> None:
    conformance.check_identity(_info(name))


@pytest.mark.parametrize("name", PARAMS)
def test_catalogue(name: str) -> None:
    conformance.check_catalogue(_info(name))


@pytest.mark.parametrize("name", PARAMS)
def test_docs(name: str) -> None:
    conformance.check_docs(_info(name))


AsyncCheck = Callable[[CollectorInfo], Awaitable[None]]


@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize(
    "check",
    [conformance.check_coverage, conformance.check_error_cases, conformance.check_no_secret_leaks],
    ids=["coverage", "error_cases", "no_secret_leaks"],
)
async def test_case_checks(name: str, check: AsyncCheck) -> None:
    await check(_info(name))
