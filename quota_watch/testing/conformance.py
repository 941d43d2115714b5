"""Conformance suite every collector passes: identity, catalogue, cases, error cases, secrets, docs.

Each `check_*` function takes one `CollectorInfo` (from
`quota_watch.collect.registry.discover()`) and
raises `ConformanceError` (an AssertionError) listing every problem it found; the async ones
run the collector's cases on a fake provider. `check_collector` runs them all.

Usage (what tests/collectors/test_conformance.py does for every installed collector)::

    from quota_watch.collect.registry import discover
    from quota_watch.testing.conformance import check_collector

    async def test_my_collector_conforms() -> None:
        await check_collector(discover(["my_provider"])["my_provider"])

What is checked:

- identity: `name` == entry-point name == folder name; `Options` is a pydantic model with
  `extra="forbid"` (nested models too); option fields named like secrets are SecretStr;
- catalogue: `limits.toml` parses and names this provider;
- coverage: every catalogue limit is produced by some passing case, and no case produces an
  undeclared limit (for collectors declaring limits in their options: against each case's own
  declaration);
- error cases: an HTTP collector (`uses_network`, default True) has `auth_error`,
  `rate_limited` and `api_changed` cases raising AuthError, RateLimited (with retry_after)
  and UnexpectedResponse;
- secrets: no SecretStr option value appears in log records, in the str()/repr() of a raised
  exception and its cause/context chain, in the options' repr/str/JSON dump, in readings or in
  the saved state;
- docs: README.md has non-empty "Permissions" and "Fixtures" sections, and every case.toml has
  a non-empty `source`.
"""

from __future__ import annotations

import json
import logging
import re
import types
import typing
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from quota_watch.collect.catalog import load_catalogue
from quota_watch.collect.registry import ENTRY_POINT_GROUP, CollectorInfo
from quota_watch.testing.cases import (
    Case,
    CaseFailed,
    CaseFormatError,
    CaseResult,
    check_case,
    execute_case,
    iter_cases,
    load_case,
)

__all__ = [
    "MIN_SECRET_LENGTH",
    "REQUIRED_ERROR_CASES",
    "ConformanceError",
    "check_catalogue",
    "check_collector",
    "check_coverage",
    "check_docs",
    "check_error_cases",
    "check_identity",
    "check_no_secret_leaks",
    "run_all_cases",
    "secret_values",
]

REQUIRED_ERROR_CASES: dict[str, str] = {
    "auth_error": "AuthError",
    "rate_limited": "RateLimited",
    "api_changed": "UnexpectedResponse",
}
# Shorter fake secrets would match by accident and make the leak check meaningless.
MIN_SECRET_LENGTH = 8
_SECRET_FIELD = re.compile(
    r"(^|_)(token|password|passwd|secret|api_key|apikey|private_key|client_secret)$"
)
# Dict keys and field names whose plain-string values are treated as secrets by the leak check.
_SECRET_KEY = re.compile(
    r"(^|[_-])(token|password|passwd|secret|api[_-]?key|private[_-]?key|authorization)$",
    re.IGNORECASE,
)
_STANDARD_RECORD_KEYS = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "", None, None)))
_STANDARD_RECORD_KEYS |= {"message", "asctime"}


class ConformanceError(AssertionError):
    """A collector breaks the collector contract; the message lists every problem."""

    def __init__(self, name: str, check: str, problems: list[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"collector {name!r} fails {check}:\n{lines}")
        self.problems = problems


def _raise(info: CollectorInfo, check: str, problems: list[str]) -> None:
    if problems:
        raise ConformanceError(info.name, check, problems)


# --- identity and options ---------------------------------------------------------------------


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _nested_models(typing.get_args(annotation)[0])
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _nested_models(arg)


def _model_problems(model: type[BaseModel], where: str, seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    problems: list[str] = []
    if model.model_config.get("extra") != "forbid":
        problems.append(f'{where} ({model.__name__}) must set model_config extra="forbid"')
    for field_name, info in model.model_fields.items():
        annotation = info.annotation
        if _SECRET_FIELD.search(field_name) and not _holds_secret_type(annotation):
            problems.append(f"{where}.{field_name} looks like a secret but is not a SecretStr")
        for nested in _nested_models(annotation):
            problems.extend(_model_problems(nested, f"{where}.{field_name}", seen))
    return problems


def _holds_secret_type(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_holds_secret_type(arg) for arg in typing.get_args(annotation))


def check_identity(info: CollectorInfo) -> None:
    """name == entry-point name == folder name; Options is a strict pydantic model."""
    problems: list[str] = []
    declared = getattr(info.cls, "name", None)
    if declared != info.name:
        problems.append(f"class attribute name is {declared!r}, registered as {info.name!r}")
    if info.folder.name != info.name:
        problems.append(f"package folder is {info.folder.name!r}, expected {info.name!r}")
    eps = list(entry_points(group=ENTRY_POINT_GROUP, name=info.name))
    if not eps:
        problems.append(f"no entry point {info.name!r} in group {ENTRY_POINT_GROUP!r}")
    else:
        try:
            loaded = eps[0].load()
        except Exception as exc:  # a broken plugin may fail in any way
            problems.append(f"entry point cannot be loaded: {type(exc).__name__}")
        else:
            if loaded is not info.cls:
                problems.append(f"entry point {eps[0].value} is not {info.cls.__qualname__}")
    options = getattr(info.cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        problems.append("Options is not a pydantic BaseModel subclass")
    else:
        problems.extend(_model_problems(options, "Options", set()))
    _raise(info, "identity", problems)


# --- catalogue --------------------------------------------------------------------------------


def check_catalogue(info: CollectorInfo) -> None:
    """limits.toml parses and names this provider."""
    path = info.folder / "limits.toml"
    problems: list[str] = []
    try:
        catalogue = load_catalogue(path)
    except Exception as exc:  # CatalogueError, OSError, or a bug in either file
        problems.append(f"{path} does not load: {type(exc).__name__}: {exc}")
    else:
        if catalogue.provider.name != info.name:
            problems.append(f"{path}: provider.name is {catalogue.provider.name!r}")
    _raise(info, "catalogue", problems)


# --- cases ------------------------------------------------------------------------------------


def _load_cases(info: CollectorInfo) -> tuple[list[Case], list[str]]:
    problems: list[str] = []
    try:
        dirs = iter_cases(info.folder / "tests" / "cases")
    except CaseFormatError as exc:
        return [], [str(exc)]
    if not dirs:
        problems.append(f"no cases in {info.folder / 'tests' / 'cases'}")
    cases: list[Case] = []
    for case_dir in dirs:
        try:
            cases.append(load_case(case_dir))
        except CaseFormatError as exc:
            problems.append(str(exc))
    return cases, problems


async def run_all_cases(info: CollectorInfo) -> tuple[dict[str, CaseResult], list[str]]:
    """Run every case of a collector; returns results by case name and loading problems."""
    cases, problems = _load_cases(info)
    results: dict[str, CaseResult] = {}
    for case in cases:
        try:
            results[case.name] = await execute_case(info, case)
        except CaseFormatError as exc:
            problems.append(str(exc))
    return results, problems


def _passes(result: CaseResult) -> str | None:
    try:
        check_case(result.case, result)
    except CaseFailed as exc:
        return str(exc).splitlines()[0]
    return None


async def check_coverage(info: CollectorInfo) -> None:
    """Every catalogue limit is produced by a passing case; no case produces undeclared limits."""
    results, problems = await run_all_cases(info)
    catalogue = set(info.catalogue.limits)
    produced: set[str] = set()
    failing: list[str] = []
    for name, result in sorted(results.items()):
        limits = {r.limit for r in result.readings or []}
        undeclared = sorted(limits - set(result.limits))
        if undeclared:
            what = "its options" if result.declared else "limits.toml"
            problems.append(
                f"case {name}: produces {', '.join(undeclared)}, not declared in {what}"
            )
        if _passes(result) is not None:
            failing.append(name)
        elif not result.declared or set(result.limits) <= catalogue:
            # Declared limits with the catalogue's own names (the host collector's, without
            # Oracle's caps off an Oracle instance) are still the catalogue's limits.
            produced |= limits
    missing = sorted(catalogue - produced)
    if missing:
        note = f" (cases failing their own checks do not count: {', '.join(failing)})"
        problems.append(
            f"no passing case produces catalogue limit(s) {', '.join(missing)}"
            + (note if failing else "")
        )
    _raise(info, "coverage", problems)


async def check_error_cases(info: CollectorInfo) -> None:
    """An HTTP collector has auth_error, rate_limited and api_changed cases that pass."""
    if not getattr(info.cls, "uses_network", True):
        return
    results, problems = await run_all_cases(info)
    for case_name, error in REQUIRED_ERROR_CASES.items():
        result = results.get(case_name)
        if result is None:
            problems.append(f"missing case {case_name!r} (expecting {error})")
            continue
        if result.case.expect.error != error:
            problems.append(
                f"case {case_name}: [expect] error is {result.case.expect.error!r}, "
                f"must be {error!r}"
            )
            continue
        failure = _passes(result)
        if failure is not None:
            problems.append(failure)
        elif case_name == "rate_limited" and getattr(result.error, "retry_after", None) is None:
            problems.append("case rate_limited: RateLimited.retry_after is not set")
    _raise(info, "error cases", problems)


# --- secrets ----------------------------------------------------------------------------------


def _add_secret(found: list[str], text: str) -> None:
    found.append(text)
    # "Bearer <token>" header values: the token alone is what usually leaks.
    last = text.split()[-1] if text.split() else ""
    if last != text and len(last) >= MIN_SECRET_LENGTH:
        found.append(last)


def secret_values(value: Any) -> list[str]:
    """Secret values inside validated options: every SecretStr/SecretBytes, recursively.

    Plain strings count too when their field or key is named like a secret (api_token,
    password, Authorization, ...), so a token that escaped SecretStr is still checked.
    """
    found: list[str] = []

    def walk(node: Any, name: str = "") -> None:
        if isinstance(node, SecretStr):
            _add_secret(found, node.get_secret_value())
        elif isinstance(node, SecretBytes):
            _add_secret(found, node.get_secret_value().decode(errors="replace"))
        elif isinstance(node, str):
            if name and _SECRET_KEY.search(name):
                _add_secret(found, node)
        elif isinstance(node, BaseModel):
            for field_name in type(node).model_fields:
                walk(getattr(node, field_name), field_name)
        elif isinstance(node, dict):
            for key, item in node.items():
                walk(item, str(key))
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item, name)

    walk(value)
    return [s for s in dict.fromkeys(found) if s]


def _exception_chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ if error.__cause__ is not None else error.__context__


def _record_texts(record: logging.LogRecord) -> Iterator[str]:
    try:
        yield record.getMessage()
    except Exception:  # a broken format string still must not hide a leak in msg or args
        yield str(record.msg)
    yield repr(record.args)
    if record.exc_info and record.exc_info[1] is not None:
        yield logging.Formatter().formatException(record.exc_info)
        for error in _exception_chain(record.exc_info[1]):
            yield str(error)
            yield repr(error)
    if record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info
    for key, value in vars(record).items():
        if key not in _STANDARD_RECORD_KEYS:
            yield repr(value)


def _surfaces(result: CaseResult) -> Iterable[tuple[str, str]]:
    for record in result.log_records:
        for text in _record_texts(record):
            yield f"log record from {record.name!r} ({record.levelname})", text
    for error in _exception_chain(result.error):
        yield f"str() of {type(error).__name__}", str(error)
        yield f"repr() of {type(error).__name__}", repr(error)
        yield f"args of {type(error).__name__}", repr(error.args)
    yield "repr(options)", repr(result.options)
    yield "str(options)", str(result.options)
    yield "options.model_dump_json()", result.options.model_dump_json()
    yield "readings", repr(result.readings)
    yield "ctx.state", json.dumps(result.state, default=repr)


async def check_no_secret_leaks(info: CollectorInfo) -> None:
    """No secret option value shows up in logs, exception text, option reprs, readings or state."""
    results, problems = await run_all_cases(info)
    for case_name, result in sorted(results.items()):
        secrets = secret_values(result.options)
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                problems.append(
                    f"case {case_name}: a secret option value is shorter than "
                    f"{MIN_SECRET_LENGTH} characters; use a longer fake so leaks are detectable"
                )
        checked = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
        leaks = sorted({where for where, text in _surfaces(result) for s in checked if s in text})
        problems.extend(f"case {case_name}: a secret option value appears in {w}" for w in leaks)
    _raise(info, "secret handling", problems)


# --- docs -------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _sections(markdown: str) -> dict[str, str]:
    """Heading text -> body text up to the next heading of the same or a higher level."""
    lines = markdown.splitlines()
    headings = [(i, m) for i, line in enumerate(lines) if (m := _HEADING.match(line))]
    sections: dict[str, str] = {}
    for index, (line_no, match) in enumerate(headings):
        level = len(match.group(1))
        end = len(lines)
        for later_no, later in headings[index + 1 :]:
            if len(later.group(1)) <= level:
                end = later_no
                break
        sections[match.group(2)] = "\n".join(lines[line_no + 1 : end])
    return sections


def check_docs(info: CollectorInfo) -> None:
    """README.md names permissions and fixture provenance; every case names its source."""
    problems: list[str] = []
    readme = info.folder / "README.md"
    try:
        sections = _sections(readme.read_text(encoding="utf-8"))
    except OSError:
        problems.append(f"{readme} is missing")
    else:
        for word in ("Permissions", "Fixtures"):
            bodies = [
                body for title, body in sections.items() if re.search(rf"\b{word}\b", title, re.I)
            ]
            if not bodies:
                problems.append(f"README.md has no heading naming {word!r}")
            elif not any(body.strip() for body in bodies):
                problems.append(f"README.md section {word!r} is empty")
    cases, load_problems = _load_cases(info)
    problems.extend(load_problems)
    problems.extend(
        f"case {case.name}: case.toml has no (or an empty) source"
        for case in cases
        if not case.source.strip()
    )
    _raise(info, "documentation", problems)


# --- everything -------------------------------------------------------------------------------


async def check_collector(info: CollectorInfo) -> None:
    """Run every conformance check; raises one ConformanceError listing all problems."""
    problems: list[str] = []
    checks: list[tuple[str, Any]] = [
        ("identity", check_identity),
        ("catalogue", check_catalogue),
        ("docs", check_docs),
        ("coverage", check_coverage),
        ("error cases", check_error_cases),
        ("secrets", check_no_secret_leaks),
    ]
    for label, check in checks:
        try:
            outcome = check(info)
            if outcome is not None:
                await outcome
        except ConformanceError as exc:
            problems.extend(f"{label}: {p}" for p in exc.problems)
    _raise(info, "conformance", problems)
