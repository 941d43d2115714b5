"""Unit tests of the mongodb_atlas collector: cases, Digest answers, null points, options."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.mongodb_atlas.collector import MongodbAtlasCollector, latest_value
from quota_watch_collectors.mongodb_atlas.digest import parse_challenge
from quota_watch_collectors.mongodb_atlas.models import Measurements
from quota_watch_collectors.mongodb_atlas.options import MongodbAtlasOptions

from quota_watch.sdk import CollectContext, Period
from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
GROUP = "5e2211c17a3e5a48f5497de3"
PRIVATE = "fake-private-key-0123456789abcdef"
NONCE = "R9fakeNonce0123456789abcdef"
CHALLENGE = f'Digest realm="MMS Public API", domain="", nonce="{NONCE}", algorithm=MD5, qop="auth"'


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(MongodbAtlasCollector, case_dir)


def _fields(header: str) -> dict[str, str]:
    return {m[0]: m[1] or m[2] for m in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', header)}


async def test_digest_answer_is_what_a_server_checks() -> None:
    """A server holding the private key verifies the response hash (RFC 7616, qop=auth)."""
    seen: list[dict[str, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization")
        if header is None:
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        got = _fields(header)
        seen.append(got)
        ha1 = hashlib.md5(f"abcdefgh:MMS Public API:{PRIVATE}".encode()).hexdigest()
        ha2 = hashlib.md5(f"GET:{request.url.raw_path.decode()}".encode()).hexdigest()
        text = f"{ha1}:{NONCE}:{got['nc']}:{got['cnonce']}:auth:{ha2}"
        if got["response"] != hashlib.md5(text.encode()).hexdigest() or got["uri"] != (
            request.url.raw_path.decode()
        ):
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        if request.url.path.endswith("/processes"):
            return httpx.Response(200, json={"results": [_primary()], "totalCount": 1})
        return httpx.Response(200, json=_measurements(123.0, 4.0))

    options = MongodbAtlasOptions.model_validate(
        {"group_id": GROUP, "public_key": "abcdefgh", "private_key": PRIVATE}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        collector = MongodbAtlasCollector(options, client, catalogue_limits(MongodbAtlasCollector))
        readings = await collector.collect(_context())
    assert {(r.limit, r.value) for r in readings} == {("data_size", 123.0), ("connections", 4.0)}
    assert [s["nc"] for s in seen] == ["00000001", "00000002"]  # one challenge, counted on


def test_latest_value_skips_trailing_nulls_and_reads_by_time() -> None:
    payload = _measurements(None, 5.0)
    payload["measurements"][0]["dataPoints"] = [
        {"timestamp": "2026-08-21T13:00:00Z", "value": None},
        {"timestamp": "2026-08-21T11:00:00Z", "value": 1.0},
        {"timestamp": "2026-08-21T12:00:00Z", "value": 2.0},
    ]
    measured = Measurements.model_validate(payload)
    assert latest_value(measured, "LOGICAL_SIZE") == 2.0
    assert latest_value(measured, "OPCOUNTER_QUERY") is None


@pytest.mark.parametrize(
    "header",
    [
        "Basic realm=x",
        'Digest nonce="n"',
        'Digest realm="r", nonce="n", algorithm=SHA-512',
        'Digest realm="r", nonce="n", qop="auth-int"',
    ],
)
def test_unusable_challenges_are_refused(header: str) -> None:
    assert parse_challenge(header) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"group_id": GROUP},
        {"group_id": GROUP, "public_key": "abcdefgh"},
        {"group_id": GROUP, "public_key": "a", "private_key": PRIVATE, "client_id": "c"},
        {"group_id": "nothex", "public_key": "a", "private_key": PRIVATE},
        {"group_id": GROUP, "public_key": "a", "private_key": PRIVATE, "period": "1 day"},
        {"group_id": GROUP, "public_key": "a", "private_key": PRIVATE, "processes": ["h"]},
    ],
)
def test_options_reject(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MongodbAtlasOptions.model_validate(raw)


def _primary() -> dict[str, Any]:
    return {"id": "h1:27017", "typeName": "REPLICA_PRIMARY", "replicaSetName": "rs0"}


def _measurements(size: float | None, connections: float | None) -> dict[str, Any]:
    def series(name: str, value: float | None) -> dict[str, Any]:
        points = [{"timestamp": "2026-08-21T12:00:00Z", "value": value}]
        return {"name": name, "units": "BYTES", "dataPoints": points}

    return {"measurements": [series("LOGICAL_SIZE", size), series("CONNECTIONS", connections)]}


def _context() -> CollectContext:
    now = datetime(2026, 8, 21, 14, tzinfo=UTC)
    return CollectContext(
        account="t", now=now, periods={k: Period(None, now) for k in ("data_size", "connections")}
    )
