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
    period_end = 2026-11-23T00:00:00Z      # optional (omitted: not checked)
    period_zone = "America/Los_Angeles"    # optional (omitted: not checked)
    forecast = 150000.0                    # optional (omitted: the reading must carry no
                                           #   provider forecast; "*": any)
    [expect.state]                         # optional: ctx.state after collect (subset match)

`readings = []` under `[expect]` expects an empty list. A body file ending in `.json` is
served with `Content-Type: application/json` unless the route sets one. "{case_dir}" is also
replaced in `[state]` and in `[expect]` strings, so a resource can name a path in the case.
"""

from quota_watch.testing.cases.check import case_id, check_case
from quota_watch.testing.cases.load import iter_cases, load_case
from quota_watch.testing.cases.model import (
    ANY_VALUE,
    ERROR_CLASSES,
    Case,
    CaseFailed,
    CaseFormatError,
    CaseResult,
    Expectation,
    ExpectedReading,
)
from quota_watch.testing.cases.run import capture_logs, execute_case, run_case, validate_options

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
