"""Hostile-provider figures (issue 15): the heartbeat's peak RSS against a 1 GiB gzip bomb beside
the same ping against a plain "OK", and how long a poll of a dripping body lasts beside its
per-read timeout.

    python bench/bench_hostile.py
    python bench/bench_hostile.py --quick      # the same (it is quick already)

Each heartbeat runs in a fresh Python process (peak RSS = its ru_maxrss); the poll runs the real
Poller with the http_json collector on a SQLite store, against tests/support/faultserver.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, Result, add_common_args, header, table, verdict, write_results

from tests.support.faultserver import FaultServer, gzip_bomb

TIMEOUT_S = 4.0
RSS_TARGET_MIB = 150.0

_BEAT = """
import asyncio, json, resource, sys
from datetime import UTC, datetime, timedelta
import httpx
from pydantic import SecretStr
from quota_watch.config.settings import HeartbeatSettings
from quota_watch.daemon.heartbeat import Heartbeat

async def healthy():
    return None

async def main():
    s = HeartbeatSettings(url=SecretStr(sys.argv[1]), interval=timedelta(seconds=60),
                          timeout=timedelta(seconds=30))
    async with httpx.AsyncClient() as client:
        beat = Heartbeat(lambda: s, healthy, client, lambda: datetime.now(UTC))
        ok = await beat.beat()
    print(json.dumps({"ok": ok, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))

asyncio.run(main())
"""


def heartbeat_peak_mib(url: str) -> tuple[float, object]:
    """Peak RSS (MiB) of a fresh process sending one heartbeat to `url`, and the beat's result."""
    proc = subprocess.run(
        [sys.executable, "-c", _BEAT, url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=True,
    )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return data["maxrss_kib"] / 1024, data["ok"]


async def drip_poll_seconds(url: str, workdir: Path) -> tuple[float, str]:
    """Wall time of one real poll of a dripping http_json endpoint, and its error."""
    from quota_watch.collect.poller import Poller
    from quota_watch.collect.runtime import build_runtimes, http_client, utcnow
    from quota_watch.config.load import validate_config
    from quota_watch.store.facade import Store

    document = {
        "store": {"url": f"sqlite:///{workdir / 'qw.db'}"},
        "polling": {"timeout": f"{TIMEOUT_S:g}s"},
        "accounts": [
            {
                "name": "drip",
                "collector": "http_json",
                "options": {
                    "url": url,
                    "limits": {
                        "used": {
                            "title": "Used",
                            "unit": "count",
                            "measure": "level",
                            "period": "none",
                            "scope": "account",
                            "value": "used",
                        }
                    },
                },
            }
        ],
    }
    config = validate_config(document, None, {})
    store = await Store.open(config.store_url())
    client = http_client(config)
    try:
        rt = build_runtimes(config, client)["drip"]
        deadline = config.settings.polling.deadline().total_seconds()
        t0 = time.perf_counter()
        result = await Poller(store, utcnow).poll(rt, deadline)
        return time.perf_counter() - t0, result.error or ""
    finally:
        await client.aclose()
        await store.close()


def main() -> int:
    """Run the figures and print them beside their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    args = parser.parse_args()
    header("hostile provider", "heartbeat vs a 1 GiB gzip bomb; a poll vs a dripping body")
    print(f"gzip bomb: {len(gzip_bomb()) / 2**20:.2f} MiB on the wire, 1024 MiB inflated")
    with FaultServer() as faults, tempfile.TemporaryDirectory(prefix="qw-hostile-") as tmp:
        ok_mib, ok_result = heartbeat_peak_mib(faults.url("/ok"))
        bomb_mib, bomb_result = heartbeat_peak_mib(faults.url("/bomb_chunked"))
        seconds, error = asyncio.run(drip_poll_seconds(faults.url("/drip"), Path(tmp)))
    rows = [
        ["heartbeat peak RSS, plain OK (peer)", f"{ok_mib:.1f} MiB", f"pinged={ok_result}"],
        [
            "heartbeat peak RSS, 1 GiB gzip bomb (chunked)",
            f"{bomb_mib:.1f} MiB",
            f"ratio {bomb_mib / ok_mib:.2f}; pinged={bomb_result}; target < {RSS_TARGET_MIB:g}",
        ],
        [
            f"poll of a drip (1 B / 2 s), timeout {TIMEOUT_S:g}s",
            f"{seconds:.1f} s",
            f"{seconds / TIMEOUT_S:.2f} x timeout; target <= 2; {error}",
        ],
    ]
    print(table(["figure", "value", "note"], rows))
    rss_ok = bomb_mib < RSS_TARGET_MIB and bomb_result is False
    drip_ok = seconds <= 2 * TIMEOUT_S
    print(f"bomb: {verdict(rss_ok)}   drip: {verdict(drip_ok)}")
    results = [
        Result(
            "hostile",
            "heartbeat peak RSS vs 1 GiB gzip bomb",
            f"{bomb_mib:.1f} MiB",
            f"< {RSS_TARGET_MIB:g} MiB",
            verdict(rss_ok),
            f"plain ping {ok_mib:.1f} MiB",
        ),
        Result(
            "hostile",
            f"poll of a dripping body (timeout {TIMEOUT_S:g}s)",
            f"{seconds:.1f} s",
            f"<= {2 * TIMEOUT_S:g} s",
            verdict(drip_ok),
        ),
    ]
    write_results(args.json, results, {"heartbeat_ok_peak_rss_mib": ok_mib})
    return 0 if rss_ok and drip_ok else 1


if __name__ == "__main__":
    sys.exit(main())
