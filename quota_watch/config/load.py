"""Loading a config: find the file, interpolate ${VAR}, read *_file secrets, validate, redact."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from quota_watch.config.errors import ConfigError, format_validation_error, toml_path
from quota_watch.config.files import (
    nesting_problem,
    read_secret_file,
    read_toml_text,
)
from quota_watch.config.settings import (
    EMBEDDED_DEFAULT,
    ENV_CONFIG,
    AccountConfig,
    AccountSettings,
    Config,
    Path_,
    Settings,
    file_settings,
    overrides_in,
)
from quota_watch.sdk import LimitSpec, parse_quantity
from quota_watch.units import format_duration

if TYPE_CHECKING:
    from quota_watch.collect.registry import CollectorInfo

AccountScope = Callable[[Sequence[AccountSettings]], Collection[str]]
"""A read-only command's scope: given every account's checked settings (name, collector,
group), the names of the accounts it reads. Only their collector options are validated."""

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_config_file(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The first config file in the lookup order, or None for the embedded default."""
    env = os.environ if env is None else env
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError([f"{explicit}: config file not found"])
        return explicit
    if env.get(ENV_CONFIG):
        path = Path(env[ENV_CONFIG])
        if not path.is_file():
            raise ConfigError([f"{path}: config file not found (from ${ENV_CONFIG})"])
        return path
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (
        Path("quota-watch.toml"),
        xdg / "quota-watch" / "config.toml",
        Path("/etc/quota-watch/config.toml"),
    ):
        if candidate.is_file():
            return candidate
    return None


def _interpolate(node: Any, path: Path_, env: Mapping[str, str], errors: dict[str, str]) -> Any:
    if isinstance(node, str):
        if "$" not in node:  # most values: nothing to substitute
            return node

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            var = match.group(1)
            if var not in env:
                errors[toml_path(path)] = f"environment variable {var} is not set"
                return ""
            return env[var]

        return _VAR.sub(substitute, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, (*path, k), env, errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, (*path, i), env, errors) for i, v in enumerate(node)]
    return node


def _read_secret_files(
    options: dict[str, Any], model: type[BaseModel], path: Path_, errors: list[str]
) -> dict[str, Any]:
    """Replace `X_file = "/path"` with `X = <file contents>` when the model has a field X."""
    resolved = dict(options)
    for key, value in options.items():
        base = key.removesuffix("_file")
        if base == key or base not in model.model_fields or key in model.model_fields:
            continue
        where = toml_path((*path, key))
        if base in options:
            errors.append(f"{where}: give either {base} or {key}, not both")
            continue
        if not isinstance(value, str):
            errors.append(f"{where}: expected a file path")
            continue
        try:
            resolved[base] = read_secret_file(Path(value))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            # a stand-in, so the options model does not add "token: missing" to the real error
            resolved[base] = "unreadable-secret-file"
        del resolved[key]
    return resolved


def _validate_accounts(
    raw_accounts: Sequence[Any],
    settings: Settings | None,
    errors: list[str],
    scope: AccountScope | None = None,
) -> tuple[list[AccountConfig], dict[str, CollectorInfo]]:
    """The accounts with their collector options validated (with a `scope`, only those in it,
    once the settings are valid) and the collectors they use."""
    from quota_watch.collect.registry import RegistryError, discover

    wanted = None if scope is None or settings is None else set(scope(settings.accounts))
    used: dict[str, list[int]] = {}
    for index, raw in enumerate(raw_accounts):
        if (
            wanted is not None
            and settings is not None
            and settings.accounts[index].name not in wanted
        ):
            continue
        if isinstance(raw, dict) and isinstance(raw.get("collector"), str):
            used.setdefault(raw["collector"], []).append(index)
    infos: dict[str, CollectorInfo] = {}
    for collector_name, indexes in sorted(used.items()):
        try:
            infos.update(discover([collector_name]))
        except RegistryError as exc:
            errors.extend(f"accounts[{indexes[0]}].collector: {line}" for line in exc.errors)

    errors.extend(_mixed_pools(raw_accounts))
    accounts: list[AccountConfig] = []
    seen: dict[str, int] = {}
    # Settings() again would re-read the environment and fail the same way
    default_interval = settings.polling.interval if settings is not None else timedelta(minutes=5)
    for index, raw in enumerate(raw_accounts):
        if not isinstance(raw, dict):
            continue
        name = raw.get("name")
        if isinstance(name, str):
            if name in seen:
                errors.append(
                    f"accounts[{index}].name: {name!r} is already used by accounts[{seen[name]}]"
                )
            seen.setdefault(name, index)
        if (
            wanted is not None
            and settings is not None
            and settings.accounts[index].name not in wanted
        ):
            continue
        collector = raw.get("collector")
        info = infos.get(collector) if isinstance(collector, str) else None
        if info is None:
            continue
        opts_path: Path_ = ("accounts", index, "options")
        raw_options = raw.get("options", {})
        if not isinstance(raw_options, dict):
            continue  # the Settings model reports the wrong type
        raw_options = _read_secret_files(raw_options, info.cls.Options, opts_path, errors)
        try:
            options = info.cls.Options.model_validate(raw_options)
        except ValidationError as exc:
            errors.extend(format_validation_error(exc, opts_path))
            continue
        limits = _declared_limits(info, options)
        overrides = _cap_overrides(raw.get("limits", {}), limits, ("accounts", index, "limits"))
        errors.extend(overrides[1])
        if settings is None:
            continue
        parsed = settings.accounts[index]
        accounts.append(
            AccountConfig(
                name=parsed.name,
                collector=parsed.collector,
                interval=parsed.interval or default_interval,
                group=parsed.group,
                enabled=parsed.enabled,
                options=options,
                cap_overrides=overrides[0],
                limits=limits,
            )
        )
    return accounts, infos


def _mixed_pools(raw_accounts: Sequence[Any]) -> list[str]:
    """A shard pool (accounts sharing a `group`) holds accounts of one provider only."""
    first: dict[str, tuple[int, str]] = {}
    errors: list[str] = []
    for index, raw in enumerate(raw_accounts):
        if not isinstance(raw, dict):
            continue
        group, collector = raw.get("group"), raw.get("collector")
        if not isinstance(group, str) or not isinstance(collector, str):
            continue
        if group not in first:
            first[group] = (index, collector)
        elif first[group][1] != collector:
            where, other = first[group]
            errors.append(
                f"accounts[{index}].group: shard pool {group!r} already holds {other!r} accounts "
                f"(accounts[{where}]); a pool holds accounts of one provider, so give this "
                f"{collector!r} account a group of its own"
            )
    return errors


def _declared_limits(info: Any, options: BaseModel) -> dict[str, LimitSpec]:
    from quota_watch.collect.runtime import OFFLINE_CLIENT, effective_limits, instantiate

    collector = instantiate(info.cls, options, OFFLINE_CLIENT, info.catalogue.limits)
    return effective_limits(info, collector)


def _cap_overrides(
    raw: Any, limits: Mapping[str, LimitSpec], path: Path_
) -> tuple[dict[str, float], list[str]]:
    caps: dict[str, float] = {}
    errors: list[str] = []
    if not isinstance(raw, dict):
        return caps, errors
    for key, value in raw.items():
        where = toml_path((*path, key))
        spec = limits.get(key)
        if spec is None:
            known = ", ".join(sorted(limits)) or "none"
            errors.append(f"{where}: unknown limit (this collector has: {known})")
            continue
        try:
            caps[key] = parse_quantity(value, spec.unit)
        except (ValueError, TypeError) as exc:
            errors.append(f"{where}: {exc}")
    return caps, errors


def load_config(
    explicit: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    accounts: AccountScope | None = None,
) -> Config:
    """Find, read and validate the configuration; raises ConfigError listing every problem.

    `accounts` is a read-only command's scope (report, history, plan): the file is checked
    as always, but only the accounts in scope get their collector options validated and
    their rule overrides checked, notifier URLs are left alone, and `Config.accounts` holds
    only those accounts (`Config.settings.accounts` lists them all).
    """
    env = os.environ if env is None else env
    source = find_config_file(explicit, env)
    if source is None:
        return validate_config(EMBEDDED_DEFAULT, source, env, accounts=accounts)
    data, text = read_toml_text(source)
    from quota_watch.config.include import expand, locate

    data, origins, files = expand(data, text, source)
    try:
        config = validate_config(data, source, env, accounts=accounts)
    except ConfigError as exc:
        raise ConfigError(locate(exc.errors, source, origins)) from None
    return replace(config, includes=tuple(files))


def validate_config(
    data: Mapping[str, Any],
    source: Path | None,
    env: Mapping[str, str] | None = None,
    *,
    accounts: AccountScope | None = None,
) -> Config:
    """Validate parsed TOML data; raises ConfigError listing every problem with its TOML path
    (`accounts`: a read-only command's scope, see load_config)."""
    env = os.environ if env is None else env
    where = f"{source}: " if source else ""
    problem = nesting_problem(data)
    if problem is not None:
        raise ConfigError([f"{where}{problem}"])
    missing: dict[str, str] = {}
    data = _interpolate(dict(data), (), env, missing)
    errors = [f"{path}: {message}" for path, message in missing.items()]
    settings: Settings | None = None
    try:
        settings = _settings(data, env)
    except ValidationError as exc:
        errors.extend(
            line for line in format_validation_error(exc) if line.partition(": ")[0] not in missing
        )
    except ValueError as exc:  # EnvOverrideError: a QUOTA_WATCH_* variable not valid JSON
        errors.append(str(exc))
    raw_accounts = data.get("accounts", [])
    checked, infos = (
        _validate_accounts(raw_accounts, settings, errors, accounts)
        if isinstance(raw_accounts, list)
        else ([], {})
    )
    if settings is not None:
        errors.extend(_check_alerting(settings, checked, infos, notifiers=accounts is None))
        errors.extend(_check_cluster(settings))
    if errors:
        raise ConfigError([f"{where}{line}" for line in errors])
    assert settings is not None
    return Config(settings=settings, accounts=tuple(checked), source=source, collectors=infos)


def _settings(data: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """The file's settings, with the environment's QUOTA_WATCH_* variables overriding them
    (through pydantic-settings, imported only when one is set)."""
    if not overrides_in(env):
        return file_settings(data)
    from quota_watch.config.environ import with_environment

    return with_environment(data, env)


def _check_cluster(settings: Settings) -> list[str]:
    """A cluster needs PostgreSQL: SQLite is one daemon's file."""
    url = settings.store.url or ""
    if settings.cluster.enabled and not url.startswith(("postgresql:", "postgresql+", "postgres:")):
        return [
            "cluster.enabled: several daemons need a PostgreSQL store (store.url = "
            "'postgresql://...'); SQLite serves one daemon only"
        ]
    return []


def _check_alerting(
    settings: Settings,
    accounts: Sequence[AccountConfig],
    infos: Mapping[str, CollectorInfo],
    *,
    notifiers: bool = True,
) -> list[str]:
    """Rule pack readable, every [[rules]] entry applicable to `accounts`, notifier URLs
    usable (unless not `notifiers`: checking them imports apprise)."""
    from quota_watch.engine.rulepack import RuleError, effective_rules, load_rule_pack
    from quota_watch.notify.config import check_notifiers

    errors: list[str] = []
    try:
        pack = load_rule_pack(settings.alerts.rule_pack)
    except ConfigError as exc:
        return [f"alerts.rule_pack: {line}" for line in exc.errors]
    if settings.rules:
        from quota_watch.collect.runtime import configured_cap

        for account in accounts:
            limits = account.limits or _declared_limits(infos[account.collector], account.options)
            for name, spec in limits.items():
                cap, _ = configured_cap(name, spec, account.cap_overrides)
                try:
                    effective_rules(
                        pack,
                        settings.rules,
                        provider=account.collector,
                        account=account.name,
                        limit=name,
                        group=account.group,
                        unit=spec.unit.value,
                        cap=cap if cap is not None else 1.0,
                    )
                except RuleError as exc:
                    errors.append(f"{exc} (account {account.name}, limit {name})")
    if settings.notifiers and notifiers:
        errors.extend(check_notifiers(settings.notifiers))
    return list(dict.fromkeys(errors))


def redacted(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, with every secret replaced by '**********'."""
    from quota_watch.config.redaction import mask_url, redact_options

    dump = config.settings.model_dump(mode="json", exclude={"accounts"})
    dump["store"]["url"] = mask_url(config.store_url())
    dump["accounts"] = [
        {
            "name": a.name,
            "collector": a.collector,
            "interval": format_duration(a.interval),
            "group": a.group,
            "enabled": a.enabled,
            "options": redact_options(a.options),
            "limits": dict(a.cap_overrides),
        }
        for a in config.accounts
    ]
    return dump
