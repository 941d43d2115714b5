"""The rule pack as data: rules/default.toml, its model, and [[rules]] overrides resolved."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from quota_watch.config.errors import ConfigError, format_validation_error
from quota_watch.sdk import Unit, parse_duration, parse_quantity
from quota_watch.units import format_duration

__all__ = [
    "DEFAULT_PACK_PATHS",
    "MAX_RATIO",
    "EffectiveRules",
    "RuleError",
    "RuleMatch",
    "RuleOverride",
    "RulePack",
    "RulePackError",
    "ShardRule",
    "default_pack_path",
    "effective_rules",
    "load_rule_pack",
    "parse_rule_pack",
    "resolve_threshold",
]

MAX_RATIO = 10.0
"""A threshold number up to this is a ratio of the cap; above it, an amount in base units."""

_HERE = Path(__file__).resolve().parent
DEFAULT_PACK_PATHS = (
    _HERE / "default.toml",  # where a wheel may carry it (hatch force-include)
    _HERE.parent.parent / "rules" / "default.toml",  # a source checkout / editable install
)
"""Where the shipped rules/default.toml is looked for, in order."""

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_NUMBER = re.compile(r"^\s*[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\s*$")


_MAX_DURATION = timedelta(days=3650)


def _bounded(value: timedelta) -> timedelta:
    if value > _MAX_DURATION:
        raise ValueError("a rule duration must not exceed 3650d")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_bounded),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]


def _ratio(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a ratio of the cap (a number, e.g. 0.8)")
    if not 0 < value <= MAX_RATIO:
        raise ValueError(f"a ratio must be > 0 and <= {MAX_RATIO:g}, got {value!r}")
    return float(value)


Ratio = Annotated[float, BeforeValidator(_ratio)]


def _threshold_value(value: Any) -> Any:
    """Accept a ratio, a percentage or an absolute amount; the unit is checked per limit later."""
    if isinstance(value, bool):
        raise ValueError("must be a ratio (0.8), a percentage ('80%') or an amount ('4 GB')")
    if isinstance(value, str) and _NUMBER.match(value):
        value = float(value)  # "0.8" means what 0.8 means, not 0.8 base units
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"a threshold must be a finite number > 0, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError("must be a ratio (0.8), a percentage ('80%') or an amount ('4 GB')")
    percent = _PERCENT.match(value)
    if percent is not None:
        ratio = float(percent.group(1)) / 100
        if not 0 < ratio <= MAX_RATIO:
            raise ValueError(f"{value!r}: a percentage must be > 0% and <= {MAX_RATIO * 100:g}%")
        return value
    for unit in Unit:
        try:
            amount = parse_quantity(value, unit)
        except ValueError:
            continue
        if amount <= 0:
            raise ValueError(f"{value!r}: a threshold amount must be > 0")
        return value
    raise ValueError(
        f"{value!r} is neither a percentage ('80%') nor an amount in any unit "
        "(e.g. '4 GB', '90 min', '100k')"
    )


ThresholdValue = Annotated[float | int | str, BeforeValidator(_threshold_value)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdRule(_Section):
    """Utilization >= warning / critical of the cap (ratios; overrides may give amounts)."""

    enabled: bool = True
    warning: Ratio = 0.8
    critical: Ratio = 1.0
    for_runs: int = Field(2, ge=1, le=10_000)
    clear_hysteresis: float = Field(0.05, ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRule:
        if self.warning > self.critical:
            raise ValueError(
                f"warning ({self.warning:g}) must not be above critical ({self.critical:g})"
            )
        return self


class ForecastRule(_Section):
    """Projected exhaustion: period-end projection (cumulative) or time to full (level)."""

    enabled: bool = True
    min_points: int = Field(4, ge=2, le=10_000)
    floor: float = Field(0.4, ge=0, le=MAX_RATIO)
    horizon: Duration = timedelta(days=7)
    lookback: Duration = timedelta(days=3)
    lookback_daily: Duration = timedelta(hours=6)
    min_span: Duration = timedelta(hours=3)
    for_runs: int = Field(2, ge=1, le=10_000)


class StaleRule(_Section):
    """No successful poll of an account for after_runs poll intervals."""

    enabled: bool = True
    after_runs: int = Field(3, ge=1, le=10_000)


class AuthRule(_Section):
    """The account's last poll had its credentials rejected."""

    enabled: bool = True


class ReminderRule(_Section):
    """Reminders while an alert fires: initial, then each interval times factor, up to max."""

    initial: Duration = timedelta(hours=4)
    factor: float = Field(2.0, ge=1, le=100)
    max: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _ordered(self) -> ReminderRule:
        if self.max < self.initial:
            raise ValueError("max must not be shorter than initial")
        return self


class ShardRule(_Section):
    """Shard-pool advice: shards needed so each runs at target_utilization of its cap."""

    enabled: bool = True
    target_utilization: float = Field(0.7, gt=0, le=1)
    horizon: Duration = timedelta(days=30)


class RulePack(_Section):
    """The whole rule pack: the built-in defaults, which rules/default.toml states as data."""

    threshold: ThresholdRule = ThresholdRule()
    forecast: ForecastRule = ForecastRule()
    stale: StaleRule = StaleRule()
    auth: AuthRule = AuthRule()
    shard: ShardRule = ShardRule()
    reminders: ReminderRule = ReminderRule()


class RuleMatch(_Section):
    """Which series an override applies to: every key given must equal; none given: all."""

    provider: str | None = Field(None, description="collector name")
    account: str | None = Field(None, description="account name")
    limit: str | None = Field(None, description="limit key")
    group: str | None = Field(None, description="shard pool (accounts[].group)")
    resource: str | None = Field(None, description="resource of a per-resource limit")

    def matches(
        self,
        *,
        provider: str,
        account: str,
        limit: str | None,
        group: str | None,
        resource: str | None = None,
    ) -> bool:
        """Whether every key of this match equals the given series' field."""
        actual = (provider, account, limit, group, resource)
        wanted = (self.provider, self.account, self.limit, self.group, self.resource)
        return all(w is None or w == a for w, a in zip(wanted, actual, strict=True))


class RuleOverride(_Section):
    """One [[rules]] entry: a match and the rule-pack values it changes (later entries win)."""

    match: RuleMatch = Field(
        default_factory=RuleMatch,
        description="provider/account/limit/group/resource that must all equal",
    )
    threshold: bool | None = Field(None, description="enable or disable the threshold rule")
    warning: ThresholdValue | None = Field(
        None, description="ratio (<= 10), '80%', or an amount in the limit's unit ('4 GB')"
    )
    critical: ThresholdValue | None = Field(
        None, description="ratio (<= 10), '80%', or an amount in the limit's unit ('4 GB')"
    )
    for_runs: int | None = Field(
        None, ge=1, le=10_000, description="polls the threshold must hold before firing"
    )
    clear_hysteresis: float | None = Field(
        None, ge=0, lt=1, description="clear only below threshold minus this ratio"
    )
    forecast: bool | None = Field(None, description="enable or disable the forecast rule")
    forecast_min_points: int | None = Field(None, ge=2, le=10_000)
    forecast_floor: float | None = Field(None, ge=0, le=MAX_RATIO)
    forecast_horizon: Duration | None = None
    forecast_lookback: Duration | None = None
    forecast_lookback_daily: Duration | None = None
    forecast_min_span: Duration | None = None
    forecast_for_runs: int | None = Field(None, ge=1, le=10_000)
    stale: bool | None = Field(None, description="enable or disable the stale rule")
    stale_after_runs: int | None = Field(None, ge=1, le=10_000)
    auth: bool | None = Field(None, description="enable or disable the auth rule")
    reminder_initial: Duration | None = None
    reminder_factor: float | None = Field(None, ge=1, le=100)
    reminder_max: Duration | None = None


class RuleError(ValueError):
    """An override cannot apply to a series (e.g. '4 GB' on a count limit)."""


class RulePackError(ConfigError):
    """A rule-pack file that cannot be read or does not validate."""


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """The rules of one series (or account) after overrides, with thresholds as ratios.

    `warning`/`critical` are None where an absolute amount met a series without a cap: the
    threshold rule cannot evaluate there and raises no alert.
    """

    threshold_enabled: bool
    warning: float | None
    critical: float | None
    for_runs: int
    clear_hysteresis: float
    forecast_enabled: bool
    forecast_min_points: int
    forecast_floor: float
    forecast_horizon: timedelta
    forecast_lookback: timedelta
    forecast_lookback_daily: timedelta
    forecast_min_span: timedelta
    forecast_for_runs: int
    stale_enabled: bool
    stale_after_runs: int
    auth_enabled: bool
    reminder_initial: timedelta
    reminder_factor: float
    reminder_max: timedelta

    def enabled(self, kind: str) -> bool:
        """Whether rule `kind` (threshold, forecast, stale, auth) is on."""
        return {
            "threshold": self.threshold_enabled,
            "forecast": self.forecast_enabled,
            "stale": self.stale_enabled,
            "auth": self.auth_enabled,
        }[kind]

    def for_runs_of(self, kind: str) -> int:
        """Consecutive polls the condition of `kind` must hold before it fires."""
        if kind == "threshold":
            return self.for_runs
        if kind == "forecast":
            return self.forecast_for_runs
        return 1  # stale and auth already encode their own delay


def resolve_threshold(
    value: float | int | str, unit: str | None, cap: float | None
) -> float | None:
    """A threshold as a ratio of `cap`: numbers <= 10 and "80%" are ratios already; amounts
    ("4 GB", "100k", or numbers above 10, in base units) are divided by the cap (None without
    one). A bare number in a string ("0.8") is that number (RuleOverride converts it).

    Raises RuleError when an amount does not fit the limit's unit.
    """
    if isinstance(value, str):
        percent = _PERCENT.match(value)
        if percent is not None:
            return float(percent.group(1)) / 100
        if unit is None:
            return None  # an account-level evaluation has no unit and no cap
        try:
            amount = parse_quantity(value, unit)
        except ValueError as exc:
            raise RuleError(str(exc)) from None
    elif value <= MAX_RATIO:
        return float(value)
    else:
        amount = float(value)
    if cap is None or cap <= 0:
        return None
    return amount / cap


def effective_rules(
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    *,
    provider: str,
    account: str,
    limit: str | None,
    group: str | None,
    unit: str | None,
    cap: float | None,
    resource: str | None = None,
) -> EffectiveRules:
    """The rules for one series (limit=None, unit=None, cap=None for account-level rules).

    Overrides whose match fits apply in order, later ones winning key by key. Raises RuleError
    naming the override (rules[i]) when one cannot apply to this series.
    """
    values: dict[str, Any] = {
        "threshold_enabled": pack.threshold.enabled,
        "warning": pack.threshold.warning,
        "critical": pack.threshold.critical,
        "for_runs": pack.threshold.for_runs,
        "clear_hysteresis": pack.threshold.clear_hysteresis,
        "forecast_enabled": pack.forecast.enabled,
        "forecast_min_points": pack.forecast.min_points,
        "forecast_floor": pack.forecast.floor,
        "forecast_horizon": pack.forecast.horizon,
        "forecast_lookback": pack.forecast.lookback,
        "forecast_lookback_daily": pack.forecast.lookback_daily,
        "forecast_min_span": pack.forecast.min_span,
        "forecast_for_runs": pack.forecast.for_runs,
        "stale_enabled": pack.stale.enabled,
        "stale_after_runs": pack.stale.after_runs,
        "auth_enabled": pack.auth.enabled,
        "reminder_initial": pack.reminders.initial,
        "reminder_factor": pack.reminders.factor,
        "reminder_max": pack.reminders.max,
    }
    origin: dict[str, int] = {}
    renamed = {"threshold": "threshold_enabled", "forecast": "forecast_enabled"}
    renamed |= {"stale": "stale_enabled", "auth": "auth_enabled"}
    for index, override in enumerate(overrides):
        if not override.match.matches(
            provider=provider, account=account, limit=limit, group=group, resource=resource
        ):
            continue
        for name in type(override).model_fields:
            if name == "match":
                continue
            value = getattr(override, name)
            if value is not None:
                key = renamed.get(name, name)
                values[key] = value
                origin[key] = index
    for key in ("warning", "critical"):
        try:
            values[key] = resolve_threshold(values[key], unit, cap)
        except RuleError as exc:
            raise RuleError(f"rules[{origin[key]}].{key}: {exc}") from None
    if values["reminder_max"] < values["reminder_initial"]:
        where = origin.get("reminder_max", origin.get("reminder_initial"))
        raise RuleError(f"rules[{where}]: reminder_max must not be shorter than reminder_initial")
    return EffectiveRules(**values)


def default_pack_path() -> Path | None:
    """The shipped rules/default.toml, or None when this installation does not carry it."""
    for candidate in DEFAULT_PACK_PATHS:
        if candidate.is_file():
            return candidate
    return None


def parse_rule_pack(text: str, source: str = "<string>") -> RulePack:
    """Validate a rule pack from TOML text; RulePackError lists every problem with its path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulePackError([f"{source}: invalid TOML: {exc}"]) from None
    try:
        return RulePack.model_validate(data)
    except ValidationError as exc:
        raise RulePackError(
            [f"{source}: {line}" for line in format_validation_error(exc)]
        ) from None


def load_rule_pack(path: Path | None = None) -> RulePack:
    """The rule pack in `path`; without one, the shipped default file or else the built-ins.

    The shipped file and the built-in defaults are the same (a test pins them), so an
    installation without the file behaves identically.
    """
    if path is None:
        path = default_pack_path()
        if path is None:
            return RulePack()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulePackError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_rule_pack(text, str(path))
