"""One-shot polling and probing outside the scheduler (`collect --once`, `config check --probe`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from quota_watch.collect.poller import Poller, PollResult
from quota_watch.collect.runtime import build_runtimes, http_client, scrub, utcnow
from quota_watch.config.settings import Config
from quota_watch.sdk import CollectorError
from quota_watch.store.facade import Store


async def collect_once(config: Config, accounts: Sequence[str]) -> list[PollResult]:
    """Poll `accounts` concurrently now, store the readings and return the results in order."""
    store = await Store.open(config.store_url())
    try:
        async with http_client(config) as client:
            runtimes = build_runtimes(config, client)
            poller = Poller(store, utcnow)
            return list(await asyncio.gather(*(poller.poll(runtimes[a]) for a in accounts)))
    finally:
        await store.close()


async def probe_all(config: Config) -> dict[str, str | None]:
    """Probe every account's credentials: None where fine, else what went wrong."""
    async with http_client(config) as client:
        runtimes = build_runtimes(config, client)

        async def probe(name: str) -> str | None:
            rt = runtimes[name]
            try:
                await rt.collector.probe()
            except CollectorError as exc:
                return scrub(f"{exc.outcome}: {exc}", rt.secrets)
            except Exception as exc:
                return scrub(f"error: {type(exc).__name__}: {exc}", rt.secrets)
            return None

        names = sorted(runtimes)
        results = await asyncio.gather(*(probe(n) for n in names))
        return dict(zip(names, results, strict=True))
