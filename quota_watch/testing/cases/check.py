"""Checking a run against the case's `[expect]`: readings, errors and state, as a readable diff."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quota_watch import sdk
from quota_watch.sdk import Reading
from quota_watch.testing.cases.model import (
    ANY_VALUE,
    ERROR_CLASSES,
    Case,
    CaseFailed,
    CaseResult,
    ExpectedReading,
    key_text,
)

__all__ = ["case_id", "check_case"]


def _reading_text(reading: Reading) -> str:
    text = f"{key_text((reading.limit, reading.resource))} value={reading.value!r}"
    text += f" cap={reading.cap!r}"
    if reading.period_start is not None:
        text += f" period_start={reading.period_start.isoformat()}"
    if reading.period_end is not None:
        text += f" period_end={reading.period_end.isoformat()}"
    if reading.period_zone is not None:
        text += f" period_zone={reading.period_zone}"
    if reading.forecast is not None:
        text += f" forecast={reading.forecast!r}"
    return text


def _close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=1e-9)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _compare_readings(expected: tuple[ExpectedReading, ...], actual: list[Reading]) -> list[str]:
    problems: list[str] = []
    by_key: dict[tuple[str, str | None], Reading] = {}
    for reading in actual:
        if not isinstance(reading, Reading):
            problems.append(f"  not a Reading: {reading!r}")
            continue
        key = (reading.limit, reading.resource)
        if key in by_key:
            problems.append(f"  duplicate:  {_reading_text(reading)}")
        by_key[key] = reading
    wanted = {(e.limit, e.resource): e for e in expected}
    for key, exp in wanted.items():
        got = by_key.get(key)
        if got is None:
            problems.append(f"  missing:    {exp.describe()}")
            continue
        diffs: list[str] = []
        if exp.value != ANY_VALUE and not _close(got.value, exp.value):
            diffs.append(f"value {got.value!r} != expected {exp.value!r}")
        if exp.cap is None and got.cap is not None:
            diffs.append(f"cap {got.cap!r} reported, none expected")
        elif exp.cap is not None and got.cap is None:
            diffs.append(f"no cap reported, expected {exp.cap!r}")
        elif isinstance(exp.cap, float) and got.cap is not None and not _close(got.cap, exp.cap):
            diffs.append(f"cap {got.cap!r} != expected {exp.cap!r}")
        if exp.period_start is not None and got.period_start != exp.period_start:
            shown = None if got.period_start is None else got.period_start.isoformat()
            diffs.append(f"period_start {shown} != expected {exp.period_start.isoformat()}")
        diffs.extend(_period_and_forecast_diffs(exp, got))
        if diffs:
            problems.append(f"  different:  {key_text(key)}: {'; '.join(diffs)}")
    for key, got in by_key.items():
        if key not in wanted:
            problems.append(f"  unexpected: {_reading_text(got)}")
    return problems


def _period_and_forecast_diffs(exp: ExpectedReading, got: Reading) -> list[str]:
    diffs: list[str] = []
    if exp.period_end is not None and got.period_end != exp.period_end:
        shown = None if got.period_end is None else got.period_end.isoformat()
        diffs.append(f"period_end {shown} != expected {exp.period_end.isoformat()}")
    if exp.period_zone is not None and got.period_zone != exp.period_zone:
        diffs.append(f"period_zone {got.period_zone!r} != expected {exp.period_zone!r}")
    if exp.forecast is None and got.forecast is not None:
        diffs.append(f"forecast {got.forecast!r} reported, none expected")
    elif exp.forecast is not None and got.forecast is None:
        diffs.append(f"no forecast reported, expected {exp.forecast!r}")
    elif (
        isinstance(exp.forecast, float)
        and got.forecast is not None
        and not _close(got.forecast, exp.forecast)
    ):
        diffs.append(f"forecast {got.forecast!r} != expected {exp.forecast!r}")
    return diffs


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return _close(float(actual), float(expected))
    if isinstance(expected, list) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(
            _equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, Mapping):
        return set(expected) == set(actual) and all(
            _equal(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


def _state_subset(expected: Any, actual: Any, path: str) -> list[str]:
    """Tables match when every expected key matches (recursively); other values must be equal."""
    where = path or "<state>"
    if isinstance(expected, dict):
        if not isinstance(actual, Mapping):
            return [f"  {where}: expected a table, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                problems.append(f"  {sub}: missing (expected {value!r})")
            else:
                problems.extend(_state_subset(value, actual[key], sub))
        return problems
    if _equal(expected, actual):
        return []
    return [f"  {where}: {actual!r} != expected {expected!r}"]


def case_id(case_dir: Path | str) -> str:
    """Id "<collector>/<case>" of a folder laid out as <collector>/tests/cases/<case>."""
    path = Path(case_dir)
    if path.parent.name == "cases" and path.parent.parent.name == "tests":
        return f"{path.parent.parent.parent.name}/{path.name}"
    return path.name


def check_case(case: Case, result: CaseResult) -> None:
    """Compare a run with the case's `[expect]`; raises CaseFailed with a readable diff."""
    title = f"case {case_id(case.path)}"
    if result.unmatched:
        details = "\n".join(str(u) for u in result.unmatched)
        raise CaseFailed(f"{title}: the collector sent requests no route answers:\n{details}")
    expect = case.expect
    if expect.error is not None:
        wanted = ERROR_CLASSES[expect.error]
        if result.error is None:
            got = "\n".join(f"  {_reading_text(r)}" for r in result.readings or [])
            raise CaseFailed(
                f"{title}: expected {expect.error}, but collect() returned "
                f"{len(result.readings or [])} reading(s)" + (f":\n{got}" if got else "")
            )
        if not isinstance(result.error, wanted):
            raise CaseFailed(
                f"{title}: expected {expect.error}, got {_error_text(result.error)}"
            ) from result.error
        if isinstance(result.error, sdk.RateLimited) and expect.error_retry_after is not None:
            got_after = result.error.retry_after
            if got_after is None or not _close(got_after, expect.error_retry_after):
                raise CaseFailed(
                    f"{title}: RateLimited.retry_after is {got_after!r}, "
                    f"expected {expect.error_retry_after!r}"
                ) from result.error
    else:
        if result.error is not None:
            raise CaseFailed(
                f"{title}: expected readings, but collect() raised {_error_text(result.error)}"
            ) from result.error
        assert expect.readings is not None
        problems = _compare_readings(expect.readings, result.readings or [])
        if problems:
            raise CaseFailed(f"{title}: readings differ from [expect]:\n" + "\n".join(problems))
    undeclared = sorted({r.limit for r in result.readings or [] if r.limit not in result.limits})
    if undeclared:
        raise CaseFailed(
            f"{title}: readings of undeclared limit(s) {', '.join(undeclared)} "
            f"(declared: {', '.join(sorted(result.limits)) or 'none'})"
        )
    if expect.state is not None:
        problems = _state_subset(expect.state, result.state, "")
        if problems:
            raise CaseFailed(f"{title}: state differs from [expect.state]:\n" + "\n".join(problems))
    try:
        json.dumps(result.state)
    except (TypeError, ValueError) as exc:
        raise CaseFailed(
            f"{title}: ctx.state is not JSON-serialisable after collect: {exc}"
        ) from None
