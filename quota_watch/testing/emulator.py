"""Provider emulator: a real loopback HTTP server serving usage that grows, with injectable faults.

For end-to-end tests and benchmarks. A Starlette app served by uvicorn in a background thread
(its own event loop), started and stopped by a context manager. Each `EmulatedAccount` answers
`GET /v1/accounts/{name}/usage` (with `Authorization: Bearer <token>`)::

    {"account": "acct-01", "as_of": "2026-11-22T10:00:00Z",
     "limits": {"requests": {"used": 1234.0, "cap": 100000.0},
                "worker_requests": {"resources": [{"name": "api", "used": 12.0}], "cap": 100000.0}}}

where `used` = start_value + growth_per_hour * hours since the emulator started, on an
injectable clock. `Faults` (global, per account, or changed at run time with `set_faults`)
add latency and, drawn from a seeded random stream per account, 503s, 429s with Retry-After,
hangs, truncated JSON and 401s. Sleeps are asynchronous: hundreds of concurrent slow requests
do not block each other. `stats` counts requests per account and outcome.

Usage::

    from quota_watch.testing.emulator import (
        EmulatedAccount,
        EmulatedLimit,
        Emulator,
        Faults,
        ManualClock,
    )

    clock = ManualClock()
    accounts = [EmulatedAccount("acct-01", "secret-token-1", {
        "requests": EmulatedLimit(start_value=100, growth_per_hour=50, cap=1000),
    })]
    with Emulator(accounts, clock=clock, faults=Faults(latency=0.05), seed=7) as emulator:
        options = emulator.http_json_options("acct-01")  # http_json collector options
        clock.advance(hours=2)                            # "used" is now 200
        config = emulator.config_toml(interval="1m", store_url="sqlite:///qw.db")

From a shell (serves demo accounts until Ctrl-C and prints a daemon config polling them)::

    python -m quota_watch.testing.emulator --accounts 5 --port 8900 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quota_watch.sdk import Scope
from quota_watch.testing.emulated import (
    EmulatedAccount,
    EmulatedLimit,
    Faults,
    ManualClock,
    demo_accounts,
)
from quota_watch.testing.threaded import ServedInThread, ThreadedServer

__all__ = [
    "OUTCOMES",
    "EmulatedAccount",
    "EmulatedLimit",
    "Emulator",
    "Faults",
    "ManualClock",
    "demo_accounts",
    "main",
]

Clock = Callable[[], datetime]
OUTCOMES = ("ok", "error", "rate_limited", "timeout", "malformed", "auth_failed")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Emulator(ServedInThread):
    """A loopback HTTP server emulating a provider's usage API for the given accounts."""

    def __init__(
        self,
        accounts: Iterable[EmulatedAccount],
        *,
        faults: Faults | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accounts: dict[str, EmulatedAccount] = {}
        for account in accounts:
            if account.name in self.accounts:
                raise ValueError(f"account {account.name!r} is listed twice")
            self.accounts[account.name] = account
        self.seed = seed
        self.clock: Clock = clock or _utc_now
        self.started_at = self.clock()
        if self.started_at.tzinfo is None:
            raise ValueError("the emulator's clock must return timezone-aware datetimes")
        self.host = host
        self._global_faults = faults or Faults()
        self._faults: dict[str, Faults] = {
            a.name: a.faults for a in self.accounts.values() if a.faults is not None
        }
        self._rngs = {name: random.Random(f"{seed}:{name}") for name in self.accounts}
        self._stats: dict[str, Counter[str]] = {name: Counter() for name in self.accounts}
        self._in_flight = 0
        self.peak_in_flight = 0
        """The most usage requests the server was answering at one time (since start)."""
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/accounts/{name}/usage", self._usage_endpoint, methods=["GET"]),
                Route("/healthz", self._health_endpoint, methods=["GET"]),
            ]
        )
        self._http = ThreadedServer(self.app, host, port, name="quota-watch-emulator")

    # --- addresses (start/stop/port: ServedInThread) -----------------------------------------

    @property
    def base_url(self) -> str:
        """http://host:port of the running emulator."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def usage_url(self, account: str) -> str:
        """The usage endpoint of one account."""
        self._account(account)
        return f"{self.base_url}/v1/accounts/{account}/usage"

    # --- faults and counters --------------------------------------------------------------------

    def set_faults(self, account: str | None, faults: Faults) -> None:
        """Replace the faults of one account (or the global default with None) at run time."""
        with self._lock:
            if account is None:
                self._global_faults = faults
            else:
                self._account(account)
                self._faults[account] = faults

    def faults_for(self, account: str) -> Faults:
        """The faults currently applied to `account`."""
        with self._lock:
            return self._faults.get(account, self._global_faults)

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Requests received so far, per account and outcome (a snapshot; see OUTCOMES)."""
        with self._lock:
            return {name: dict(counter) for name, counter in self._stats.items()}

    def reset_stats(self) -> None:
        """Zero the request counters."""
        with self._lock:
            for counter in self._stats.values():
                counter.clear()

    # --- payloads -------------------------------------------------------------------------------

    def _account(self, name: str) -> EmulatedAccount:
        try:
            return self.accounts[name]
        except KeyError:
            raise KeyError(f"unknown emulated account {name!r}") from None

    def hours_elapsed(self, at: datetime | None = None) -> float:
        """Hours between the emulator's start and `at` (default: its clock's now)."""
        moment = at or self.clock()
        return (moment - self.started_at).total_seconds() / 3600

    def usage(self, account: str, at: datetime | None = None) -> dict[str, Any]:
        """The usage document `account` serves at `at` (default: now on the emulator's clock)."""
        moment = at or self.clock()
        hours = self.hours_elapsed(moment)
        limits: dict[str, Any] = {}
        for key, limit in self._account(account).limits.items():
            value = limit.value_at(hours)
            if limit.resources is None:
                limits[key] = {"used": value, "cap": limit.cap}
            else:
                limits[key] = {
                    "resources": [{"name": r, "used": value} for r in limit.resources],
                    "cap": limit.cap,
                }
        return {"account": account, "as_of": _iso(moment), "limits": limits}

    # --- HTTP -----------------------------------------------------------------------------------

    def _decide(self, name: str, authorization: str) -> tuple[str, Faults, float]:
        """Pick the outcome and latency of one request (deterministic per account and seed)."""
        account = self.accounts[name]
        with self._lock:
            faults = self._faults.get(name, self._global_faults)
            rng = self._rngs[name]
            draw, spread = rng.random(), rng.uniform(-1.0, 1.0)
            scheme, _, token = authorization.partition(" ")
            token_ok = scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), account.token.encode()
            )
            if faults.auth_fail or not token_ok:
                outcome = "auth_failed"
            else:
                outcome = "ok"
                edge = 0.0
                for kind, rate in (
                    ("error", faults.error_rate),
                    ("rate_limited", faults.rate_limit_rate),
                    ("timeout", faults.timeout_rate),
                    ("malformed", faults.malformed_rate),
                ):
                    edge += rate
                    if draw < edge:
                        outcome = kind
                        break
            self._stats[name][outcome] += 1
        return outcome, faults, max(0.0, faults.latency + spread * faults.jitter)

    async def _usage_endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.accounts:
            return JSONResponse({"error": "no such account"}, status_code=404)
        outcome, faults, delay = self._decide(name, request.headers.get("authorization", ""))
        if delay:
            with self._lock:
                self._in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            try:
                await asyncio.sleep(delay)
            finally:
                with self._lock:
                    self._in_flight -= 1
        if outcome == "auth_failed":
            return JSONResponse(
                {"error": "invalid or missing token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="emulator"'},
            )
        if outcome == "error":
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        if outcome == "rate_limited":
            return JSONResponse(
                {"error": "rate limited"},
                status_code=429,
                headers={"Retry-After": str(faults.retry_after)},
            )
        if outcome == "timeout":
            await asyncio.sleep(faults.hang)
        body = json.dumps(self.usage(name))
        if outcome == "malformed":
            body = body[: max(1, len(body) // 2)]
        return Response(body, status_code=200, media_type="application/json")

    async def _health_endpoint(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    # --- configuration for the daemon -----------------------------------------------------------

    def http_json_options(self, account: str) -> dict[str, Any]:
        """Options of the http_json collector that poll `account` on this emulator."""
        emulated = self._account(account)
        limits: dict[str, Any] = {}
        for key, limit in emulated.limits.items():
            quoted = json.dumps(key)  # a JMESPath quoted identifier
            spec: dict[str, Any] = {
                "title": limit.title or key.replace("_", " ").capitalize(),
                "unit": limit.unit.value,
                "measure": limit.measure.value,
                "period": dict(limit.period) if isinstance(limit.period, Mapping) else limit.period,
            }
            if limit.cap is not None:
                spec["cap"] = limit.cap
            if limit.resources is None:
                spec["scope"] = Scope.ACCOUNT.value
                spec["value"] = f"limits.{quoted}.used"
                if limit.cap is not None:
                    spec["cap_path"] = f"limits.{quoted}.cap"
            else:
                # cap_path would be evaluated on each resource element, which carries no cap:
                # per-resource caps come from the declared spec's `cap` instead.
                spec["scope"] = Scope.RESOURCE.value
                spec["for_each"] = f"limits.{quoted}.resources"
                spec["value"] = "used"
                spec["resource"] = "name"
            limits[key] = spec
        return {
            "url": self.usage_url(account),
            "method": "GET",
            "headers": {"Authorization": f"Bearer {emulated.token}"},
            "timeout": "10s",
            "limits": limits,
        }

    def config_toml(
        self,
        accounts: Iterable[str] | None = None,
        *,
        interval: str = "1m",
        store_url: str | None = None,
        listen: str = "127.0.0.1:9877",
        group: str | None = None,
    ) -> str:
        """A daemon config polling `accounts` (default: all) through the http_json collector."""
        names = list(self.accounts) if accounts is None else list(accounts)
        document: dict[str, Any] = {"server": {"listen": listen}}
        if store_url is not None:
            document["store"] = {"url": store_url}
        entries: list[dict[str, Any]] = []
        for name in names:
            entry: dict[str, Any] = {"name": name, "collector": "http_json", "interval": interval}
            if group is not None:
                entry["group"] = group
            entry["options"] = _escape_dollars(self.http_json_options(name))
            entries.append(entry)
        document["accounts"] = entries
        return tomli_w.dumps(document)


def _escape_dollars(value: Any) -> Any:
    """Double every "$" so the config loader's ${VAR} interpolation leaves values untouched."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Serve demo accounts until interrupted; prints the URL and a daemon config polling them."""
    parser = argparse.ArgumentParser(
        prog="python -m quota_watch.testing.emulator",
        description="Emulated provider usage API for quota-watch end-to-end runs.",
        epilog="example: python -m quota_watch.testing.emulator --accounts 5 --port 8900",
    )
    parser.add_argument("--accounts", type=int, default=3, help="number of demo accounts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="+/- seconds of latency")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 503 answers")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share of hangs")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share of bad JSON")
    parser.add_argument("--interval", default="1m", help="poll interval in the printed config")
    parser.add_argument("--store-url", default=None, help="store URL in the printed config")
    parser.add_argument("--config-out", default=None, help="write the config to this file")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts must be >= 1")
    try:
        faults = Faults(
            latency=args.latency,
            jitter=args.jitter,
            error_rate=args.error_rate,
            rate_limit_rate=args.rate_limit_rate,
            timeout_rate=args.timeout_rate,
            malformed_rate=args.malformed_rate,
        )
    except ValueError as exc:
        parser.error(str(exc))
    emulator = Emulator(
        demo_accounts(args.accounts), faults=faults, seed=args.seed, host=args.host, port=args.port
    )
    with emulator:
        config = emulator.config_toml(interval=args.interval, store_url=args.store_url)
        if args.config_out:
            Path(args.config_out).write_text(config, encoding="utf-8")
        print(f"emulator serving {len(emulator.accounts)} account(s) at {emulator.base_url}")
        for account in emulator.accounts.values():
            print(f"  {emulator.usage_url(account.name)}")
        if args.config_out:
            print(f"daemon config written to {args.config_out}")
        else:
            print("\n# daemon config (quota-watch --config <file> run):\n" + config)
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
