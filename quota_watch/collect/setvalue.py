"""`quota-watch set`: a value set by hand, checked by its collector and stored by one poll."""

from __future__ import annotations

from datetime import datetime

from quota_watch.collect.poller import Poller, PollResult
from quota_watch.collect.registry import RegistryError, discover
from quota_watch.collect.runtime import OFFLINE_CLIENT, AccountRuntime, build_runtime, utcnow
from quota_watch.config.settings import Config
from quota_watch.sdk import SetValue, parse_quantity, with_set_value
from quota_watch.store.facade import Store

__all__ = ["SetRefused", "prepare_set", "store_set_value"]


class SetRefused(ValueError):
    """The value cannot be set: unknown account or limit, a wrong unit, or the collector says no."""


def _runtime(config: Config, account: str) -> AccountRuntime:
    found = [a for a in config.accounts if a.name == account]
    if not found:
        known = ", ".join(a.name for a in config.accounts) or "none"
        raise SetRefused(f"unknown account {account!r} (configured: {known})")
    settings = found[0]
    try:
        info = discover([settings.collector])[settings.collector]
    except RegistryError as exc:
        raise SetRefused(str(exc)) from None
    # Settable collectors make no requests: no HTTP client is opened for them.
    return build_runtime(settings, info, OFFLINE_CLIENT)


def prepare_set(
    config: Config,
    account: str,
    limit: str,
    value: str,
    *,
    cap: str | None = None,
    resource: str | None = None,
    now: datetime,
) -> tuple[AccountRuntime, SetValue]:
    """The account's runtime and the checked value; SetRefused saying what is wrong."""
    rt = _runtime(config, account)
    if not getattr(rt.collector, "settable", False):
        raise SetRefused(
            f"account {account!r} uses the {rt.provider} collector, which takes no values set "
            "by hand (use a `manual` account)"
        )
    spec = rt.limits.get(limit)
    if spec is None:
        declared = ", ".join(sorted(rt.limits)) or "none"
        raise SetRefused(f"account {account!r} has no limit {limit!r} (declared: {declared})")
    try:
        amount = parse_quantity(value, spec.unit)
    except ValueError as exc:
        raise SetRefused(f"VALUE: {exc}") from None
    try:
        cap_amount = None if cap is None else parse_quantity(cap, spec.unit)
    except ValueError as exc:
        raise SetRefused(f"--cap: {exc}") from None
    try:
        checked = SetValue(limit, amount, now, resource or None, cap_amount)
        rt.collector.accept_set(checked)  # type: ignore[attr-defined]
    except ValueError as exc:
        raise SetRefused(str(exc)) from None
    return rt, checked


async def store_set_value(config: Config, rt: AccountRuntime, value: SetValue) -> PollResult:
    """Add `value` to the account's state and poll the account once, storing its readings."""
    store = await Store.open(config.store_url())
    try:
        poller = Poller(store, utcnow)
        return await poller.poll(rt, amend_state=lambda state: with_set_value(state, value))
    finally:
        await store.close()
