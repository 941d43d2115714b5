"""Which rules apply: the effective rules of a series or of an account, falling back to fewer
overrides when one cannot apply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quota_watch.engine.rulepack import (
    EffectiveRules,
    RuleError,
    RuleOverride,
    RulePack,
    effective_rules,
)
from quota_watch.engine.signals import SeriesView

__all__ = ["account_rules", "rules_for_series"]


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
