"""Running a case: the collector on a fake provider (or a loopback server), with a context."""

from __future__ import annotations

import contextlib
import copy
import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from quota_watch.collect.catalog import load_catalogue
from quota_watch.collect.periods import current_period
from quota_watch.collect.registry import CollectorInfo
from quota_watch.collect.runtime import instantiate, resolve_limits
from quota_watch.sdk import CollectContext, LimitSpec, Reading
from quota_watch.testing.cases.check import check_case
from quota_watch.testing.cases.load import load_case
from quota_watch.testing.cases.model import CASE_FILE, Case, CaseFormatError, CaseResult
from quota_watch.testing.loopback import LoopbackProvider, point_at
from quota_watch.testing.router import FakeProvider

__all__ = ["capture_logs", "execute_case", "run_case", "validate_options"]


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
            catalogue: dict[str, LimitSpec] = {}  # a bare class may only declare its limits
            if isinstance(target, CollectorInfo):
                catalogue = dict(target.catalogue.limits)
            elif (folder / "limits.toml").exists():
                catalogue = dict(load_catalogue(folder / "limits.toml").limits)
            collector = instantiate(cls, options, client, catalogue)
            declared: dict[str, LimitSpec] | None = collector.declared_limits()
            limits = resolve_limits(catalogue, collector)
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
