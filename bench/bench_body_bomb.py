"""Peak RSS while one collector reads a gzip bomb through the SDK kit vs plain httpx.

A loopback server (`quota_watch.testing.bomb.GzipBomb`) answers with `--size` bytes of zeros
(default 1 GiB), gzip-compressed as they are sent (about 1 MiB on the wire). Each reader runs in
its own subprocess, so `ru_maxrss` is that run's peak alone:

- **kit**: the `http_json` collector (built on `quota_watch.sdk.ProviderHttp`) with its default
  `max_response_size` (16 MiB): the kit inflates in bounded steps and refuses the body once more
  than the limit has come out.
- **peer**: the same GET with plain httpx, `await response.aread()`: what a client without the
  kit does (httpx inflates the whole body into memory).

Prints each run's peak RSS, wall time and outcome, and the ratio peer/kit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIB = 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


async def _read_with_kit(url: str) -> str:
    import httpx
    from quota_watch_collectors.http_json.collector import HttpJsonCollector
    from quota_watch_collectors.http_json.options import HttpJsonOptions

    from quota_watch.sdk import CollectContext, CollectorError

    options = HttpJsonOptions.model_validate(
        {
            "url": url,
            "limits": {
                "used": {"title": "Used", "unit": "count", "measure": "level", "value": "used"}
            },
        }
    )
    async with httpx.AsyncClient(timeout=600) as client:
        collector = HttpJsonCollector(options, client)
        ctx = CollectContext(account="bench", now=datetime.now(UTC), periods={})
        try:
            await collector.collect(ctx)
        except CollectorError as exc:
            return f"{type(exc).__name__}: {exc}"
    return "read (no error)"


async def _read_with_httpx(url: str) -> str:
    import httpx

    async with httpx.AsyncClient(timeout=600) as client:
        response = await client.get(url)  # reads (and inflates) the whole body
        return f"read {len(response.content)} bytes"


def child(variant: str, url: str) -> None:
    """One reader in this process; prints a JSON line with its peak RSS."""
    baseline = _peak_mib()
    started = time.perf_counter()
    reader = _read_with_kit if variant == "kit" else _read_with_httpx
    outcome = asyncio.run(reader(url))
    print(
        json.dumps(
            {
                "variant": variant,
                "peak_rss_mib": round(_peak_mib(), 1),
                "baseline_rss_mib": round(baseline, 1),
                "seconds": round(time.perf_counter() - started, 2),
                "outcome": outcome[:160],
            }
        )
    )


def run(variant: str, url: str) -> dict[str, Any]:
    """Run one reader in a fresh interpreter and return its JSON line."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--url", url],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Serve the bomb, run both readers one after the other, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=2**30, help="inflated bytes (default 1 GiB)")
    parser.add_argument("--quick", action="store_true", help="a 64 MiB bomb")
    parser.add_argument("--json", type=Path, help="write the headline figures here")
    parser.add_argument("--child", choices=["kit", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.url)
        return 0
    from quota_watch.testing.bomb import GzipBomb

    size = 64 * MIB if args.quick else args.size
    print(f"python {platform.python_version()}, load average {sys_load()}")
    print(f"gzip bomb: {size / MIB:.0f} MiB of zeros, inflated by the reader")
    with GzipBomb(size) as bomb:
        url = f"{bomb.url}/v1/usage"
        results = [run("kit", url), run("peer", url)]
    for result in results:
        print(
            f"{result['variant']:>4}: peak RSS {result['peak_rss_mib']:8.1f} MiB "
            f"(interpreter before reading {result['baseline_rss_mib']:.1f} MiB), "
            f"{result['seconds']:.2f} s, {result['outcome']}"
        )
    kit, peer = results
    ratio = peer["peak_rss_mib"] / kit["peak_rss_mib"]
    print(f"peer/kit peak RSS: {ratio:.1f}x")
    if args.json:
        figures = {"bomb_mib": size / MIB, "kit": kit, "peer": peer, "peer_over_kit": ratio}
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def sys_load() -> str:
    """The 1-minute load average, for context."""
    try:
        return Path("/proc/loadavg").read_text(encoding="utf-8").split()[0]
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
