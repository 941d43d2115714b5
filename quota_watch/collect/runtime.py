"""Account runtimes: each account's collector, effective limits and secrets; the HTTP client."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr

from quota_watch.collect.registry import CollectorInfo, discover
from quota_watch.config.settings import AccountConfig, Config
from quota_watch.sdk import (
    Collector,
    LimitSpec,
    anchored,
)

if TYPE_CHECKING:
    import httpx


@dataclass
class AccountRuntime:
    """An account ready to poll: its config, collector instance and effective limits."""

    config: AccountConfig
    info: CollectorInfo
    collector: Collector
    limits: Mapping[str, LimitSpec]
    secrets: tuple[str, ...]
    state: dict[str, Any] | None = None  # loaded from the store on the first poll, then cached

    @property
    def provider(self) -> str:
        """The provider label (the collector's name)."""
        return self.info.name


def secret_values(options: BaseModel) -> tuple[str, ...]:
    """Every SecretStr value inside an options model (nested dicts and lists included)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str | int | float | None):  # most leaves: nothing to look into
            return
        if isinstance(node, SecretStr):
            value = node.get_secret_value()
            if value:
                found.append(value)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, Mapping):
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item)

    walk(options)
    return tuple(sorted(set(found), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in `text` with '***' (a last line of defence for messages)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _OfflineClient:
    """Stands in for the HTTP client where collectors are built but never poll."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this collector was built offline and cannot make requests")


OFFLINE_CLIENT: Any = _OfflineClient()


@cache
def _takes_limits(cls: type[Any]) -> bool:
    try:
        return "limits" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def instantiate(
    cls: type[Collector], options: Any, client: Any, catalogue: Mapping[str, LimitSpec]
) -> Collector:
    """A collector with its parsed catalogue handed in (a class written before `limits`
    existed is built with options and client only)."""
    if _takes_limits(cls):
        return cls(options, client, limits=catalogue)
    return cls(options, client)


def resolve_limits(
    catalogue: Mapping[str, LimitSpec], collector: Collector
) -> dict[str, LimitSpec]:
    """The limits an account is polled for: what its collector declares, else the catalogue,
    with the billing cycles its options anchor (the `period_anchors` hook) moved there."""
    declared = collector.declared_limits()
    limits = dict(catalogue) if declared is None else dict(declared)
    hook = getattr(collector, "period_anchors", None)
    anchors: Mapping[str, int] = hook() if callable(hook) else {}
    for name, day in anchors.items():
        if name in limits:
            limits[name] = anchored(limits[name], day)
    return limits


def effective_limits(info: CollectorInfo, collector: Collector) -> dict[str, LimitSpec]:
    """The limits an account is polled for (see resolve_limits), from the registry's catalogue."""
    return resolve_limits(info.catalogue.limits, collector)


def configured_cap(
    limit: str, spec: LimitSpec, overrides: Mapping[str, float]
) -> tuple[float | None, str]:
    """A limit's cap and its source without an API-reported one: the account's override in
    config, else the catalogue's cap, else none."""
    if limit in overrides:
        return overrides[limit], "override"
    if spec.cap is not None:
        return spec.cap, "catalogue"
    return None, "none"


def effective_cap(
    reported: float | None, limit: str, spec: LimitSpec, overrides: Mapping[str, float]
) -> tuple[float | None, str]:
    """A reading's cap and its source. Precedence: API-reported > override > catalogue."""
    if reported is not None:
        return reported, "api"
    return configured_cap(limit, spec, overrides)


def build_runtime(
    config: AccountConfig, info: CollectorInfo, client: httpx.AsyncClient, *, secrets: bool = True
) -> AccountRuntime:
    """Instantiate the account's collector on the shared client and fix its limits (those
    config validation resolved, if it did); `secrets`: False for a runtime that never polls,
    whose messages then need no scrubbing."""
    collector = instantiate(info.cls, config.options, client, info.catalogue.limits)
    return AccountRuntime(
        config=config,
        info=info,
        collector=collector,
        limits=dict(config.limits) if config.limits else effective_limits(info, collector),
        secrets=secret_values(config.options) if secrets else (),
    )


def user_agent() -> str:
    """Our User-Agent header. The version comes from the package metadata, read when a client
    is built: the read-only commands, which never poll, do not pay for it."""
    from quota_watch import __version__

    return f"quota-watch/{__version__} (free-tier usage monitor)"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def http_client(config: Config) -> httpx.AsyncClient:
    """The one shared HTTP client: pooled, with timeouts and our User-Agent, keeping no cookies."""
    # Imported here: read-only commands build runtimes but never poll.
    import urllib.request

    import httpx

    from quota_watch.collect.cookies import NoCookieJar
    from quota_watch.collect.transport import ShardedTransport

    timeout = config.settings.polling.timeout.total_seconds()
    # A proxy from the environment (HTTPS_PROXY, ...) is honoured by httpx's own transport
    # only: with one set, the client keeps it (and its single pool).
    proxied = any(k in ("http", "https", "all") for k in urllib.request.getproxies())
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": user_agent()},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        transport=None if proxied else ShardedTransport(),
        follow_redirects=False,
        cookies=NoCookieJar(),
    )


def build_runtimes(config: Config, client: httpx.AsyncClient) -> dict[str, AccountRuntime]:
    """A runtime per configured account, loading only the collectors in use."""
    infos = discover({a.collector for a in config.accounts})
    return {a.name: build_runtime(a, infos[a.collector], client) for a in config.accounts}
