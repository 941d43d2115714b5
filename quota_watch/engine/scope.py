"""Which rules apply: the effective rules of a series or of an account, falling back to fewer
overrides when one cannot apply."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from quota_watch.engine.rulepack import (
    EffectiveRules,
    RuleError,
    RuleOverride,
    RulePack,
    effective_rules,
)
from quota_watch.engine.signals import SeriesView

__all__ = ["RulesCache", "account_rules", "rules_for_series"]

# provider, account, group, limit, resource
_SeriesKey = tuple[str, str, str | None, str, str | None]


def rules_for_series(
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    view: SeriesView,
    errors: list[str],
) -> EffectiveRules:
    """The rules of one series; an override that cannot apply is noted in `errors` and the
    series falls back to ratio thresholds only."""

    def resolve(
        chosen: Sequence[RuleOverride], unit: str | None, cap: float | None
    ) -> EffectiveRules:
        return effective_rules(
            pack,
            chosen,
            provider=view.provider,
            account=view.account,
            limit=view.limit,
            group=view.group,
            resource=view.resource,
            unit=unit,
            cap=cap,
        )

    try:
        return resolve(overrides, view.unit, view.cap)
    except RuleError as exc:
        label = view.limit if view.resource is None else f"{view.limit}[{view.resource}]"
        errors.append(f"{view.account}/{label}: {exc}")
    try:
        # Without a unit or cap, absolute thresholds cannot evaluate; ratios still apply.
        return resolve(overrides, None, None)
    except RuleError as exc:  # an error not about the unit (e.g. reminder bounds)
        errors.append(f"{view.account}: {exc}")
        return resolve((), None, None)


def account_rules(
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    *,
    provider: str,
    account: str,
    group: str | None,
    errors: list[str],
) -> EffectiveRules:
    """The rules of an account's own alerts (stale, auth); when the overrides cannot apply,
    the error is noted in `errors` and the pack's rules apply."""
    where: dict[str, Any] = {"provider": provider, "account": account, "group": group}
    try:
        return effective_rules(pack, overrides, **where, limit=None, unit=None, cap=None)
    except RuleError as exc:
        errors.append(f"{account}: {exc}")
        return effective_rules(pack, (), **where, limit=None, unit=None, cap=None)


class RulesCache:
    """The resolved rules of each series and account under one rule pack and its overrides.

    They depend on nothing else (a series' identity, unit and cap), so a poll reuses the
    rules its series had at the previous one; a reload (a new pack or overrides) takes a new
    cache. The errors a resolution noted are given again at every use, as resolving would.
    """

    def __init__(self, pack: RulePack, overrides: Sequence[RuleOverride]) -> None:
        self.pack = pack
        self.overrides = overrides
        self._series: dict[_SeriesKey, tuple[str, float | None, EffectiveRules, list[str]]] = {}
        self._accounts: dict[tuple[str, str, str | None], tuple[EffectiveRules, list[str]]] = {}

    def fits(self, pack: RulePack, overrides: Sequence[RuleOverride]) -> bool:
        """Whether this cache holds the rules of exactly this pack and these overrides."""
        return pack is self.pack and overrides is self.overrides

    def series(self, view: SeriesView, errors: list[str]) -> EffectiveRules:
        """`rules_for_series` of `view`, resolved once per series (again if unit or cap move)."""
        key = (view.provider, view.account, view.group, view.limit, view.resource)
        known = self._series.get(key)
        if known is None or known[0] != view.unit or known[1] != view.cap:
            noted: list[str] = []
            rules = rules_for_series(self.pack, self.overrides, view, noted)
            known = self._series[key] = (view.unit, view.cap, rules, noted)
        errors.extend(known[3])
        return known[2]

    def account(
        self, *, provider: str, account: str, group: str | None, errors: list[str]
    ) -> EffectiveRules:
        """`account_rules` of an account, resolved once."""
        key = (provider, account, group)
        known = self._accounts.get(key)
        if known is None:
            noted: list[str] = []
            rules = account_rules(
                self.pack,
                self.overrides,
                provider=provider,
                account=account,
                group=group,
                errors=noted,
            )
            known = self._accounts[key] = (rules, noted)
        errors.extend(known[1])
        return known[0]

    def keep_only(self, accounts: Collection[str]) -> None:
        """Drop the rules of the accounts not in `accounts`."""
        self._series = {k: v for k, v in self._series.items() if k[1] in accounts}
        self._accounts = {k: v for k, v in self._accounts.items() if k[1] in accounts}
