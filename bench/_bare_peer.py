"""The bench's peers: a hand-written poller (httpx + semaphore + json), with or without a
stdlib sqlite3 store, over the same emulated accounts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from quota_watch.collect.runtime import AccountRuntime, utcnow

_BARE_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, "limit" TEXT NOT NULL,
    resource TEXT NOT NULL, last_ts TEXT NOT NULL, last_value REAL NOT NULL, cap REAL,
    UNIQUE (account, "limit", resource));
CREATE TABLE IF NOT EXISTS sample (
    series_id INTEGER NOT NULL REFERENCES series(id), ts TEXT NOT NULL, value REAL NOT NULL,
    cap REAL, PRIMARY KEY (series_id, ts));
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, outcome TEXT NOT NULL, readings INTEGER NOT NULL);
"""


def _bare_readings(document: Any) -> list[tuple[str, str, float, float | None]]:
    """The emulator document's readings, read by hand: (limit, resource, value, cap)."""
    found = []
    for key, limit in document["limits"].items():
        cap = limit.get("cap")
        if "resources" in limit:
            found += [(key, r["name"], float(r["used"]), cap) for r in limit["resources"]]
        else:
            found.append((key, "", float(limit["used"]), cap))
    return found


async def bare_peer(
    client: httpx.AsyncClient,
    runtimes: dict[str, AccountRuntime],
    concurrency: int,
    cycles: int,
    db: Path | None,
) -> list[float]:
    """CPU per poll of a hand-written poller (httpx + semaphore + json) over the same accounts
    and client, storing each poll in one stdlib sqlite3 transaction if `db` is given (WAL,
    synchronous=NORMAL, as the store): one figure per cycle."""
    conn = None
    if db is not None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_BARE_SCHEMA)
    semaphore = asyncio.Semaphore(concurrency)

    def store(account: str, started: str, rows: list[tuple[str, str, float, float | None]]) -> None:
        assert conn is not None
        now = utcnow().isoformat()
        conn.execute("BEGIN IMMEDIATE")
        for limit, resource, value, cap in rows:
            (series_id,) = conn.execute(
                'INSERT INTO series (account, "limit", resource, last_ts, last_value, cap) '
                'VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, "limit", resource) DO UPDATE '
                "SET last_ts = excluded.last_ts, last_value = excluded.last_value, "
                "cap = excluded.cap RETURNING id",
                (account, limit, resource, now, value, cap),
            ).fetchone()
            conn.execute(
                "INSERT INTO sample VALUES (?, ?, ?, ?) ON CONFLICT (series_id, ts) DO UPDATE "
                "SET value = excluded.value, cap = excluded.cap",
                (series_id, now, value, cap),
            )
        conn.execute(
            "INSERT INTO run (account, started_at, finished_at, outcome, readings) "
            "VALUES (?, ?, ?, 'success', ?)",
            (account, started, now, len(rows)),
        )
        conn.execute("COMMIT")

    async def poll(rt: AccountRuntime) -> None:
        options: Any = rt.config.options
        headers = {k: v.get_secret_value() for k, v in options.headers.items()}
        async with semaphore:
            started = utcnow().isoformat()
            try:
                response = await client.get(str(options.url), headers=headers)
            except httpx.TransportError:
                # A pooled keep-alive connection the emulator closed meanwhile: once more on
                # a fresh one, as the collectors' client does.
                response = await client.get(str(options.url), headers=headers)
            response.raise_for_status()
            rows = _bare_readings(json.loads(await response.aread()))
        if conn is not None:
            store(rt.config.name, started, rows)

    per_poll = []
    try:
        for _ in range(cycles):
            cpu0 = time.process_time()
            await asyncio.gather(*(poll(rt) for rt in runtimes.values()))
            per_poll.append((time.process_time() - cpu0) / len(runtimes))
    finally:
        if conn is not None:
            conn.close()
    return per_poll
