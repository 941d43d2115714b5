"""Loading case folders: find them, and parse and validate their case.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from quota_watch.testing.cases.model import (
    ANY_VALUE,
    CASE_DIR_TOKEN,
    CASE_FILE,
    ERROR_CLASSES,
    Case,
    CaseFormatError,
    Expectation,
    ExpectedReading,
    key_text,
)
from quota_watch.testing.router import Route

__all__ = ["iter_cases", "load_case"]

_CASE_KEYS = {"description", "source", "now", "options", "state", "routes", "expect"}
_ROUTE_KEYS = {
    "method",
    "path",
    "operation",
    "query",
    "status",
    "headers",
    "body",
    "body_text",
    "times",
}
_EXPECT_KEYS = {"error", "error_retry_after", "readings", "state"}
_READING_KEYS = {
    "limit",
    "value",
    "resource",
    "cap",
    "period_start",
    "period_end",
    "period_zone",
    "forecast",
}


def iter_cases(folder: Path | str) -> list[Path]:
    """Case folders, sorted: `folder` is a collector folder, its tests/ folder, or a cases folder.

    Every subfolder of the cases folder (except hidden ones and __pycache__) must hold a
    case.toml; a stray folder is an error, not a skip.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CaseFormatError(f"{root}: not a folder")
    candidates = (root / "tests" / "cases", root / "cases", root)
    cases_root = next(c for c in candidates if c.is_dir())
    found: list[Path] = []
    stray: list[str] = []
    for child in sorted(cases_root.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "_")):
            continue
        if (child / CASE_FILE).is_file():
            found.append(child.resolve())
        else:
            stray.append(child.name)
    if stray:
        raise CaseFormatError(f"{cases_root}: folders without {CASE_FILE}: {', '.join(stray)}")
    return found


def load_case(case_dir: Path | str) -> Case:
    """Parse and validate `case_dir/case.toml`."""
    path = Path(case_dir).resolve()
    file = path / CASE_FILE
    try:
        with file.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise CaseFormatError(f"{file}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CaseFormatError(f"{file}: invalid TOML: {exc}") from exc
    where = str(file)
    _check_keys(raw, _CASE_KEYS, where)
    options = _table(raw.get("options", {}), f"{where}: [options]")
    state = _table(raw.get("state", {}), f"{where}: [state]")
    routes_raw = raw.get("routes", [])
    if not isinstance(routes_raw, list):
        raise CaseFormatError(f"{where}: routes must be an array of tables ([[routes]])")
    routes = tuple(
        _load_route(item, path, f"{where}: routes[{index}]")
        for index, item in enumerate(routes_raw)
    )
    if "expect" not in raw:
        raise CaseFormatError(f"{where}: missing [expect]")
    expect = _load_expect(raw["expect"], f"{where}: [expect]")
    return Case(
        name=path.name,
        path=path,
        description=_string(raw.get("description", ""), f"{where}: description"),
        source=_string(raw.get("source", ""), f"{where}: source"),
        now=_datetime(raw.get("now"), f"{where}: now"),
        options=_substitute(options, str(path)),
        state=_substitute(state, str(path)),
        routes=routes,
        expect=_substitute(expect, str(path)),
    )


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CaseFormatError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CaseFormatError(f"{where}: must be a table")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CaseFormatError(f"{where}: must be a string")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CaseFormatError(f"{where}: must be a number")
    return float(value)


def _datetime(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CaseFormatError(f"{where}: {value!r} is not an ISO 8601 datetime") from exc
    if not isinstance(value, datetime):
        raise CaseFormatError(f"{where}: must be an offset datetime, e.g. 2026-11-22T10:00:00Z")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CaseFormatError(f"{where}: needs a UTC offset (e.g. a trailing Z)")
    return value.astimezone(UTC)


def _load_route(raw: Any, case_dir: Path, where: str) -> Route:
    table = _table(raw, where)
    _check_keys(table, _ROUTE_KEYS, where)
    for key in ("method", "path"):
        if key not in table:
            raise CaseFormatError(f"{where}: missing {key}")
    if "body" in table and "body_text" in table:
        raise CaseFormatError(f"{where}: body and body_text are exclusive")
    headers = {
        str(k): _string(v, f"{where}: headers.{k}")
        for k, v in _table(table.get("headers", {}), f"{where}: headers").items()
    }
    body: bytes | None = None
    if "body" in table:
        body_file = case_dir / _string(table["body"], f"{where}: body")
        try:
            body = body_file.read_bytes()
        except OSError as exc:
            raise CaseFormatError(f"{where}: body file {body_file}: {exc.strerror}") from exc
        if body_file.suffix == ".json" and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif "body_text" in table:
        body = _string(table["body_text"], f"{where}: body_text").encode()
    query: dict[str, str] | None = None
    if "query" in table:
        query = {}
        for key, value in _table(table["query"], f"{where}: query").items():
            if isinstance(value, dict | list):
                raise CaseFormatError(f"{where}: query.{key} must be a scalar")
            query[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    status = table.get("status", 200)
    times = table.get("times")
    if isinstance(status, bool) or not isinstance(status, int):
        raise CaseFormatError(f"{where}: status must be an integer")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise CaseFormatError(f"{where}: times must be an integer")
    operation = table.get("operation")
    try:
        return Route(
            method=_string(table["method"], f"{where}: method"),
            path=_string(table["path"], f"{where}: path"),
            status=status,
            headers=headers,
            body=body,
            operation=None if operation is None else _string(operation, f"{where}: operation"),
            query=query,
            times=times,
        )
    except ValueError as exc:
        raise CaseFormatError(f"{where}: {exc}") from exc


def _load_expect(raw: Any, where: str) -> Expectation:
    table = _table(raw, where)
    _check_keys(table, _EXPECT_KEYS, where)
    has_error = "error" in table
    has_readings = "readings" in table
    if has_error == has_readings:
        raise CaseFormatError(f"{where}: give exactly one of error or readings")
    state = None
    if "state" in table:
        state = _table(table["state"], f"{where}.state")
    if has_error:
        error = _string(table["error"], f"{where}.error")
        if error not in ERROR_CLASSES:
            raise CaseFormatError(
                f"{where}.error: {error!r} is not an error of quota_watch.sdk "
                f"(one of {', '.join(ERROR_CLASSES)})"
            )
        retry_after = None
        if "error_retry_after" in table:
            if error != "RateLimited":
                raise CaseFormatError(f"{where}: error_retry_after applies only to RateLimited")
            retry_after = _number(table["error_retry_after"], f"{where}.error_retry_after")
        return Expectation(error=error, error_retry_after=retry_after, state=state)
    if "error_retry_after" in table:
        raise CaseFormatError(f"{where}: error_retry_after needs error = 'RateLimited'")
    readings_raw = table["readings"]
    if not isinstance(readings_raw, list):
        raise CaseFormatError(f"{where}.readings: must be an array of tables")
    readings = tuple(
        _load_reading(item, f"{where}.readings[{index}]") for index, item in enumerate(readings_raw)
    )
    seen: set[tuple[str, str | None]] = set()
    for reading in readings:
        key = (reading.limit, reading.resource)
        if key in seen:
            raise CaseFormatError(f"{where}.readings: {key_text(key)} is listed twice")
        seen.add(key)
    return Expectation(readings=readings, state=state)


def _load_reading(raw: Any, where: str) -> ExpectedReading:
    table = _table(raw, where)
    _check_keys(table, _READING_KEYS, where)
    if "limit" not in table or "value" not in table:
        raise CaseFormatError(f"{where}: needs limit and value")
    value_raw = table["value"]
    value: float | Literal["*"] = (
        ANY_VALUE if value_raw == ANY_VALUE else _number(value_raw, f"{where}.value")
    )
    resource = table.get("resource")
    cap = table.get("cap")
    period_start = table.get("period_start")
    period_end = table.get("period_end")
    period_zone = table.get("period_zone")
    forecast = table.get("forecast")
    return ExpectedReading(
        limit=_string(table["limit"], f"{where}.limit"),
        value=value,
        resource=None if resource is None else _string(resource, f"{where}.resource"),
        cap=None
        if cap is None
        else ANY_VALUE
        if cap == ANY_VALUE
        else _number(cap, f"{where}.cap"),
        period_start=None
        if period_start is None
        else _datetime(period_start, f"{where}.period_start"),
        period_end=None if period_end is None else _datetime(period_end, f"{where}.period_end"),
        period_zone=None if period_zone is None else _string(period_zone, f"{where}.period_zone"),
        forecast=None
        if forecast is None
        else ANY_VALUE
        if forecast == ANY_VALUE
        else _number(forecast, f"{where}.forecast"),
    )


def _substitute(value: Any, case_dir: str) -> Any:
    """Replace "{case_dir}" in every string inside `value` (dicts, lists, dataclasses)."""
    if isinstance(value, str):
        return value.replace(CASE_DIR_TOKEN, case_dir)
    if isinstance(value, dict):
        return {k: _substitute(v, case_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, case_dir) for v in value]
    if isinstance(value, tuple):
        return tuple(_substitute(v, case_dir) for v in value)
    if isinstance(value, ExpectedReading | Expectation):
        fields = {name: getattr(value, name) for name in value.__dataclass_fields__}
        return type(value)(**{k: _substitute(v, case_dir) for k, v in fields.items()})
    return value
