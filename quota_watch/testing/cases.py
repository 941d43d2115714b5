"""Case runner: load a collector's `tests/cases/<case>/case.toml`, run it on a fake provider.

A case folder holds `case.toml` (format below) and the response bodies it names. `run_case`
validates the case's `[options]` with the collector's `Options`, builds the collector on an
AsyncClient whose transport is a `FakeProvider` serving the case's `[[routes]]`, calls
`collect()` with an injected `CollectContext` (account "case", the case's `now`, the current
period of every declared limit, a copy of `[state]`) and compares the outcome with `[expect]`;
any difference raises `CaseFailed` (an AssertionError) with a readable diff.

Usage (a collector's own test module)::

    import pytest
    from quota_watch.testing import iter_cases, run_case
    from quota_watch_collectors.example.collector import ExampleCollector

    @pytest.mark.parametrize("case_dir", iter_cases(Path(__file__).parent), ids=lambda p: p.name)
    async def test_case(case_dir: Path) -> None:
        await run_case(ExampleCollector, case_dir)

Format of `case.toml`::

    description = "Workers over the daily cap"
    source = "Shape from <doc URL> (doc example), values invented"
    now = 2026-11-22T10:00:00Z            # injected time (TOML offset datetime)
    [options]                              # the collector's options; "{case_dir}" in any string
    token = "fake-token-123"               # becomes the absolute case folder path
    [state]                                # optional: initial ctx.state
    [[routes]]                             # fake provider responses, tried in order
    method = "GET"
    path = "/client/v4/user/tokens/verify"
    operation = "GetUsage"                 # optional: GraphQL operationName of a JSON body
    query = { since = "2026-11-22" }       # optional: query params that must match (subset)
    status = 200
    headers = { "Retry-After" = "30" }
    body = "verify.json"                   # a file in the case folder; or body_text = "..."
    times = 1                              # optional: answers at most this many times
    [expect]
    error = "AuthError"                    # EITHER an error class name from quota_watch.sdk
    error_retry_after = 30.0               #   (optional, for RateLimited)
    [[expect.readings]]                    # OR the exact readings, order-insensitive
    limit = "workers_requests"
    value = 123.0                          # or "*": present with any finite value
    resource = "my-worker"                 # optional (omitted: no resource)
    cap = 100000.0                         # optional (omitted: the reading must carry no cap;
                                           #   "*": any finite cap, for live-machine values)
    period_start = 2026-11-22T00:00:00Z    # optional (omitted: not checked)
    [expect.state]                         # optional: ctx.state after collect (subset match)

`readings = []` under `[expect]` expects an empty list. A body file ending in `.json` is
served with `Content-Type: application/json` unless the route sets one. "{case_dir}" is also
replaced in `[state]` and in `[expect]` strings, so a resource can name a path in the case.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import logging
import math
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from quota_watch import sdk
from quota_watch.collect.catalog import load_catalogue
from quota_watch.collect.periods import current_period
from quota_watch.collect.registry import CollectorInfo
from quota_watch.sdk import CollectContext, CollectorError, LimitSpec, Reading
from quota_watch.testing.loopback import LoopbackProvider, point_at
from quota_watch.testing.router import FakeProvider, RecordedRequest, Route, UnmatchedRequest

__all__ = [
    "ANY_VALUE",
    "ERROR_CLASSES",
    "Case",
    "CaseFailed",
    "CaseFormatError",
    "CaseResult",
    "Expectation",
    "ExpectedReading",
    "capture_logs",
    "case_id",
    "check_case",
    "execute_case",
    "iter_cases",
    "load_case",
    "run_case",
    "validate_options",
]

CASE_FILE = "case.toml"
ANY_VALUE: Literal["*"] = "*"
CASE_DIR_TOKEN = "{case_dir}"
ERROR_CLASSES: dict[str, type[CollectorError]] = {
    cls.__name__: cls
    for cls in (
        sdk.CollectorError,
        sdk.AuthError,
        sdk.RateLimited,
        sdk.ProviderUnavailable,
        sdk.UnexpectedResponse,
        sdk.NoData,
    )
}
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
_READING_KEYS = {"limit", "value", "resource", "cap", "period_start"}


class CaseFormatError(ValueError):
    """A case folder or case.toml does not follow the case format."""


class CaseFailed(AssertionError):
    """A case ran, and the collector's outcome differs from `[expect]`."""


@dataclass(frozen=True)
class ExpectedReading:
    """One expected reading; `value` "*" accepts any finite value."""

    limit: str
    value: float | Literal["*"]
    resource: str | None = None
    cap: float | Literal["*"] | None = None  # None: the reading must carry no cap
    period_start: datetime | None = None  # None: not checked

    def describe(self) -> str:
        """Short text naming the reading's key and expected values."""
        text = f"{_key_text((self.limit, self.resource))} value={self.value!r} cap={self.cap!r}"
        if self.period_start is not None:
            text += f" period_start={self.period_start.isoformat()}"
        return text


@dataclass(frozen=True)
class Expectation:
    """The `[expect]` table: either an error class name or the exact readings."""

    error: str | None = None
    error_retry_after: float | None = None
    readings: tuple[ExpectedReading, ...] | None = None
    state: dict[str, Any] | None = None


@dataclass(frozen=True)
class Case:
    """A loaded case folder."""

    name: str
    path: Path
    description: str
    source: str
    now: datetime
    options: dict[str, Any] = field(repr=False)  # may hold (fake) secrets
    state: dict[str, Any]
    routes: tuple[Route, ...]
    expect: Expectation


@dataclass
class CaseResult:
    """What happened when a case ran (before or after `check_case`)."""

    case: Case
    options: BaseModel
    limits: dict[str, LimitSpec]  # the limits periods were computed for
    declared: bool  # True: `limits` came from collector.declared_limits(), not limits.toml
    readings: list[Reading] | None
    error: Exception | None
    state: dict[str, Any]
    requests: list[RecordedRequest]
    unmatched: list[UnmatchedRequest]
    log_records: list[logging.LogRecord] = field(repr=False)


# --- loading ----------------------------------------------------------------------------------


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
            raise CaseFormatError(f"{where}.readings: {_key_text(key)} is listed twice")
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


# --- running ----------------------------------------------------------------------------------


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capture_logs() -> Iterator[list[logging.LogRecord]]:
    """Collect every log record (DEBUG and up) that reaches the root logger meanwhile."""
    root = logging.getLogger()
    handler = _ListHandler()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _collector_parts(target: CollectorInfo | type[Any]) -> tuple[type[Any], Path]:
    if isinstance(target, CollectorInfo):
        return target.cls, target.folder
    return target, Path(inspect.getfile(target)).resolve().parent


def validate_options(cls: type[Any], case: Case) -> BaseModel:
    """The case's `[options]` validated by the collector's Options model (no input in errors)."""
    options_model: type[BaseModel] = cls.Options
    try:
        return options_model.model_validate(case.options)
    except ValidationError as exc:
        # Without the input values: they may be tokens.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise CaseFormatError(f"{case.path / CASE_FILE}: [options] invalid: {problems}") from None


async def execute_case(
    target: CollectorInfo | type[Any], case: Case | Path | str, *, over_http: bool = False
) -> CaseResult:
    """Run one case and return what happened, without comparing it with `[expect]`.

    `over_http`: serve the routes from a real loopback HTTP server and point the collector's
    `api_base` at it (a real socket, real headers and status codes) instead of MockTransport.
    """
    if not isinstance(case, Case):
        case = load_case(case)
    cls, folder = _collector_parts(target)
    options = validate_options(cls, case)
    provider = FakeProvider(case.routes)
    state: dict[str, Any] = copy.deepcopy(case.state)
    readings: list[Reading] | None = None
    error: Exception | None = None
    with contextlib.ExitStack() as stack:
        if over_http:
            server = stack.enter_context(LoopbackProvider(provider))
            pointed = point_at(cls.Options, case.options, server.base_url)
            if pointed is None:
                raise CaseFormatError(f"{cls.name}: its options have no api_base (or url)")
            options = pointed
        records = stack.enter_context(capture_logs())
        client_cm = httpx.AsyncClient(timeout=10) if over_http else provider.client()
        async with client_cm as client:
            collector = cls(options, client)
            declared: dict[str, LimitSpec] | None = collector.declared_limits()
            if declared is not None:
                limits = dict(declared)
            elif isinstance(target, CollectorInfo):
                limits = dict(target.catalogue.limits)
            else:
                limits = dict(load_catalogue(folder / "limits.toml").limits)
            periods = {key: current_period(spec.period, case.now) for key, spec in limits.items()}
            ctx = CollectContext(account="case", now=case.now, periods=periods, state=state)
            try:
                readings = list(await collector.collect(ctx))
            except Exception as exc:  # any failure is an outcome to compare with [expect]
                error = exc
    return CaseResult(
        case=case,
        options=options,
        limits=limits,
        declared=declared is not None,
        readings=readings,
        error=error,
        state=state,
        requests=list(provider.requests),
        unmatched=list(provider.unmatched),
        log_records=records,
    )


async def run_case(
    target: CollectorInfo | type[Any], case_dir: Case | Path | str, *, over_http: bool = False
) -> CaseResult:
    """Load, run and check one case; raises CaseFailed (an AssertionError) on any difference."""
    result = await execute_case(target, case_dir, over_http=over_http)
    check_case(result.case, result)
    return result


# --- checking ---------------------------------------------------------------------------------


def _key_text(key: tuple[str, str | None]) -> str:
    limit, resource = key
    return f"limit={limit!r}" + ("" if resource is None else f" resource={resource!r}")


def _reading_text(reading: Reading) -> str:
    text = f"{_key_text((reading.limit, reading.resource))} value={reading.value!r}"
    text += f" cap={reading.cap!r}"
    if reading.period_start is not None:
        text += f" period_start={reading.period_start.isoformat()}"
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
        if diffs:
            problems.append(f"  different:  {_key_text(key)}: {'; '.join(diffs)}")
    for key, got in by_key.items():
        if key not in wanted:
            problems.append(f"  unexpected: {_reading_text(got)}")
    return problems


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
