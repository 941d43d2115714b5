"""Public test kit for collectors: fake provider router, case runner, conformance suite, emulator.

- `quota_watch.testing.router`: `FakeProvider` / `Route`, an httpx.MockTransport answering
  from canned routes (re-exported here).
- `quota_watch.testing.cases`: the shared case format (`tests/cases/<case>/case.toml`),
  `run_case`, `load_case`, `iter_cases` (re-exported here).
- `quota_watch.testing.catalogue`: `catalogue_limits(Collector)` (hand it in as `limits=`
  when building a collector in a test) and `account_limits(collector)` (what the core polls).
- `quota_watch.testing.bomb`: a gzip bomb served on loopback (bounded-read tests, benches).
- `quota_watch.testing.conformance`: the checks every collector passes (`check_collector`).
- `quota_watch.testing.emulator`: a real loopback HTTP server emulating a provider, with
  growth and faults, for end-to-end tests and benchmarks (imported on its own: it pulls in
  Starlette and uvicorn).
- `quota_watch_collectors.cloudflare.emulator`: the same kind of server speaking Cloudflare's v4
  REST and GraphQL Analytics APIs, so the real `cloudflare` collector polls it unchanged.
- `quota_watch.testing.demo`: the shard-pool demo (`python -m quota_watch.testing.demo`):
  three emulated Cloudflare accounts in one pool and a day of history for `quota-watch plan`
  and `quota-watch report` (see docs/demo.md).

Usage in a collector's tests::

    from pathlib import Path

    import pytest
    from quota_watch.testing import FakeProvider, Route, iter_cases, run_case
    from quota_watch_collectors.example.collector import ExampleCollector

    @pytest.mark.parametrize("case_dir", iter_cases(Path(__file__).parent), ids=lambda p: p.name)
    async def test_case(case_dir: Path) -> None:
        await run_case(ExampleCollector, case_dir)

    async def test_retries_once_after_429() -> None:
        provider = FakeProvider([
            Route("GET", "/v1/usage", status=429, headers={"Retry-After": "1"}, times=1),
            Route("GET", "/v1/usage", body={"used": 3}),
        ])
        async with provider.client() as client:
            ...
"""

from __future__ import annotations

from quota_watch.collect.periods import current_period  # collectors' tests build periods with it
from quota_watch.testing.cases import (
    Case,
    CaseFailed,
    CaseFormatError,
    CaseResult,
    case_id,
    check_case,
    execute_case,
    iter_cases,
    load_case,
    run_case,
)
from quota_watch.testing.catalogue import account_limits, catalogue_limits
from quota_watch.testing.router import FakeProvider, RecordedRequest, Route, UnmatchedRequest

__all__ = [
    "Case",
    "CaseFailed",
    "CaseFormatError",
    "CaseResult",
    "FakeProvider",
    "RecordedRequest",
    "Route",
    "UnmatchedRequest",
    "account_limits",
    "case_id",
    "catalogue_limits",
    "check_case",
    "current_period",
    "execute_case",
    "iter_cases",
    "load_case",
    "run_case",
]
