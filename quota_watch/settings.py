"""Configuration: TOML through pydantic-settings, env overrides, ${VAR} and *_file secrets."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from quota_watch.durations import Duration, format_duration
from quota_watch.engine.rulepack import RuleOverride
from quota_watch.errors import ConfigError, format_validation_error, toml_path
from quota_watch.notify.config import NotifierSettings
from quota_watch.sdk import LimitSpec, parse_quantity
from quota_watch.webauth import (
    check_ca_bundle,
    check_hash,
    check_readable,
    check_tls_pair,
    check_user_name,
)

Path_ = tuple[str | int, ...]

ENV_CONFIG = "QUOTA_WATCH_CONFIG"
DEFAULT_LISTEN = "127.0.0.1:9877"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The HTTP endpoint serving /metrics, /healthz and /readyz."""

    listen: str = Field(DEFAULT_LISTEN, description="host:port to listen on; keep it on loopback")
    tls_cert_file: Annotated[Path, AfterValidator(check_readable)] | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS with; needs tls_key_file"
    )
    tls_key_file: Annotated[Path, AfterValidator(check_readable)] | None = Field(
        None, description="unencrypted PEM private key of tls_cert_file", validate_default=True
    )
    tls_client_ca_file: Annotated[Path, AfterValidator(check_readable)] | None = Field(
        None, description="PEM CA bundle: require client certificates it signed (mutual TLS)"
    )
    basic_auth_users: dict[str, Annotated[SecretStr, AfterValidator(check_hash)]] | None = Field(
        None,
        description="a [server.basic_auth_users] table of user = bcrypt hash (`quota-watch "
        "config hash-password`): protects /metrics and /readyz; /healthz stays open for probes",
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not host:port (e.g. '127.0.0.1:9877')")
        return value

    @field_validator("tls_key_file")
    @classmethod
    def _tls_pair(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        cert = info.data.get("tls_cert_file")
        if value is None and cert is not None:
            raise ValueError("required with tls_cert_file")
        if value is not None and "tls_cert_file" in info.data and cert is None:
            raise ValueError("needs tls_cert_file")
        if value is not None and cert is not None:
            check_tls_pair(cert, value)
        return value

    @field_validator("tls_client_ca_file")
    @classmethod
    def _client_ca(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            if info.data.get("tls_cert_file") is None:
                raise ValueError("client certificates need TLS: set tls_cert_file too")
            check_ca_bundle(value)
        return value

    @field_validator("basic_auth_users")
    @classmethod
    def _user_names(cls, value: dict[str, SecretStr] | None) -> dict[str, SecretStr] | None:
        for name in value or {}:
            problem = check_user_name(name)
            if problem is not None:
                raise ValueError(problem)
        return value

    def host_port(self) -> tuple[str, int]:
        """The listen address split into host (brackets stripped) and port."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class RetentionSettings(_Section):
    """How long each kind of stored data is kept."""

    samples: Duration = Field(timedelta(days=35), description="raw samples")
    hourly: Duration = Field(timedelta(days=400), description="hourly rollups")
    daily: Duration = Field(timedelta(days=1830), description="daily rollups")
    runs: Duration = Field(timedelta(days=14), description="collector run log")


class StoreSettings(_Section):
    """Where readings are stored."""

    url: str | None = Field(
        None,
        description="sqlite:////abs/path.db (4 slashes: absolute) or postgresql://user@host/db; "
        "default: <user data dir>/quota-watch.db",
    )
    rollup_interval: Duration = Field(
        timedelta(minutes=15), description="how often hourly/daily rollups are folded"
    )
    retention_interval: Duration = Field(
        timedelta(hours=6), description="how often old data is pruned"
    )
    retention: RetentionSettings = RetentionSettings()


class PollingSettings(_Section):
    """Scheduling defaults shared by every account."""

    interval: Duration = Field(timedelta(minutes=5), description="default poll interval")
    jitter: float = Field(
        0.1, ge=0, le=0.5, description="random delay as a fraction of the interval"
    )
    max_concurrency_per_provider: int = Field(
        8, ge=1, le=1000, description="simultaneous polls per provider"
    )
    timeout: Duration = Field(timedelta(seconds=30), description="HTTP timeout per request")
    backoff_max: Duration = Field(timedelta(hours=1), description="longest retry delay")


class LoggingSettings(_Section):
    """Log output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class AlertSettings(_Section):
    """The rules engine and the notification outbox."""

    rule_pack: Path | None = Field(
        None, description="rule-pack TOML replacing the built-in rules/default.toml"
    )
    retry_initial: Duration = Field(
        timedelta(seconds=30), description="first retry delay of a failed notification"
    )
    retry_max: Duration = Field(timedelta(hours=1), description="longest retry delay")
    outbox_interval: Duration = Field(
        timedelta(seconds=10), description="how often due notifications are sent"
    )


class HeartbeatSettings(_Section):
    """Optional dead man's switch: a URL pinged while the daemon is healthy (healthchecks.io)."""

    url: SecretStr | None = Field(
        None,
        description="http(s) URL to GET (e.g. https://hc-ping.com/<uuid>), or any apprise URL; "
        "a secret",
    )
    interval: Duration = Field(timedelta(minutes=5), description="time between pings")
    timeout: Duration = Field(timedelta(seconds=10), description="time limit of one ping")

    @field_validator("url")
    @classmethod
    def _usable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        scheme, sep, rest = url.partition("://")
        if not sep or not scheme or not rest:
            raise ValueError("expected a URL such as https://hc-ping.com/<uuid>")
        if scheme.lower() not in ("http", "https"):
            from quota_watch.notify.deliver import validate_url

            problem = validate_url(url)
            if problem is not None:
                raise ValueError(problem)
        return SecretStr(url)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HeartbeatSettings:
        if self.interval < timedelta(seconds=10):
            raise ValueError("interval: at least 10s")
        if self.timeout >= self.interval:
            raise ValueError("timeout: must be shorter than interval")
        return self


class AccountSettings(_Section):
    """One provider account to poll."""

    name: str = Field(pattern=_NAME, description="unique; the `account` label")
    collector: str = Field(description="collector name (see `quota-watch collectors list`)")
    interval: Duration | None = Field(None, description="poll interval; default polling.interval")
    group: str | None = Field(None, pattern=_NAME, description="shard pool this account is in")
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict, description="collector options")
    limits: dict[str, float | str] = Field(
        default_factory=dict, description="cap overrides: a number in base units, or '5 GB'"
    )


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("quota_watch_environ", default=None)


class _InjectedEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading an injected mapping instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRON.get()
        if env is None:
            return super()._load_env_vars()
        return parse_env_vars(env, self.case_sensitive or False, self.env_ignore_empty)


class Settings(BaseSettings):
    """The whole configuration file."""

    model_config = SettingsConfigDict(
        env_prefix="QUOTA_WATCH_", env_nested_delimiter="__", extra="forbid"
    )

    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    polling: PollingSettings = PollingSettings()
    logging: LoggingSettings = LoggingSettings()
    alerts: AlertSettings = AlertSettings()
    heartbeat: HeartbeatSettings = HeartbeatSettings()
    accounts: list[AccountSettings] = Field(default_factory=list)
    rules: list[RuleOverride] = Field(default_factory=list)
    notifiers: list[NotifierSettings] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables override the file; no .env or secrets-dir magic."""
        return _InjectedEnvSource(settings_cls), init_settings


EMBEDDED_DEFAULT: dict[str, Any] = {
    "accounts": [{"name": "host", "collector": "host", "interval": "1m"}],
}


@dataclass(frozen=True)
class AccountConfig:
    """An account after validation: its collector's options model and cap overrides resolved."""

    name: str
    collector: str
    interval: timedelta
    group: str | None
    enabled: bool
    options: BaseModel
    cap_overrides: Mapping[str, float]


@dataclass(frozen=True)
class Config:
    """A validated configuration and where it came from (None: the embedded default)."""

    settings: Settings
    accounts: tuple[AccountConfig, ...]
    source: Path | None

    def store_url(self) -> str:
        """The store URL, defaulting to SQLite in the user data directory."""
        if self.settings.store.url:
            return self.settings.store.url
        from platformdirs import user_data_path

        return f"sqlite:///{user_data_path('quota-watch') / 'quota-watch.db'}"

    def account(self, name: str) -> AccountConfig:
        """The account called `name`."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise KeyError(f"no account {name!r} (configured: {known})")


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
            resolved[base] = Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            errors.append(f"{where}: cannot read {value}: {exc.strerror}")
            continue
        del resolved[key]
    return resolved


def _validate_accounts(
    raw_accounts: Sequence[Any], settings: Settings | None, errors: list[str]
) -> list[AccountConfig]:
    from quota_watch.registry import RegistryError, discover

    used: dict[str, list[int]] = {}
    for index, raw in enumerate(raw_accounts):
        if isinstance(raw, dict) and isinstance(raw.get("collector"), str):
            used.setdefault(raw["collector"], []).append(index)
    infos = {}
    for collector_name, indexes in sorted(used.items()):
        try:
            infos.update(discover([collector_name]))
        except RegistryError as exc:
            errors.extend(f"accounts[{indexes[0]}].collector: {line}" for line in exc.errors)

    errors.extend(_mixed_pools(raw_accounts))
    accounts: list[AccountConfig] = []
    seen: dict[str, int] = {}
    default_interval = (settings or Settings()).polling.interval
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
        info = infos.get(raw.get("collector", ""))
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
            )
        )
    return accounts


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
    from quota_watch.poller import OFFLINE_CLIENT

    declared: dict[str, LimitSpec] | None = info.cls(options, OFFLINE_CLIENT).declared_limits()
    return dict(info.catalogue.limits) if declared is None else declared


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


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate the configuration; raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    source = find_config_file(explicit, env)
    if source is None:
        data: dict[str, Any] = EMBEDDED_DEFAULT
    else:
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{source}: {exc}"]) from None
        except OSError as exc:
            raise ConfigError([f"{source}: cannot read: {exc.strerror}"]) from None
    return validate_config(data, source, env)


def validate_config(
    data: Mapping[str, Any], source: Path | None, env: Mapping[str, str] | None = None
) -> Config:
    """Validate parsed TOML data; raises ConfigError listing every problem with its TOML path."""
    env = os.environ if env is None else env
    missing: dict[str, str] = {}
    data = _interpolate(dict(data), (), env, missing)
    errors = [f"{path}: {message}" for path, message in missing.items()]
    settings: Settings | None = None
    token = _ENVIRON.set(env)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        errors.extend(
            line for line in format_validation_error(exc) if line.partition(": ")[0] not in missing
        )
    finally:
        _ENVIRON.reset(token)
    raw_accounts = data.get("accounts", [])
    accounts = (
        _validate_accounts(raw_accounts, settings, errors) if isinstance(raw_accounts, list) else []
    )
    if settings is not None:
        errors.extend(_check_alerting(settings, accounts))
    if errors:
        where = f"{source}: " if source else ""
        raise ConfigError([f"{where}{line}" for line in errors])
    assert settings is not None
    return Config(settings=settings, accounts=tuple(accounts), source=source)


def _check_alerting(settings: Settings, accounts: Sequence[AccountConfig]) -> list[str]:
    """Rule pack readable, every [[rules]] entry applicable, notifier URLs usable."""
    from quota_watch.engine.rulepack import RuleError, effective_rules, load_rule_pack
    from quota_watch.notify.config import check_notifiers

    errors: list[str] = []
    try:
        pack = load_rule_pack(settings.alerts.rule_pack)
    except ConfigError as exc:
        return [f"alerts.rule_pack: {line}" for line in exc.errors]
    if settings.rules:
        from quota_watch.registry import discover

        infos = discover({a.collector for a in accounts})
        for account in accounts:
            limits = _declared_limits(infos[account.collector], account.options)
            for name, spec in limits.items():
                cap = account.cap_overrides.get(name, spec.cap)
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
    if settings.notifiers:
        errors.extend(check_notifiers(settings.notifiers))
    return list(dict.fromkeys(errors))


def redacted(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, with every secret replaced by '**********'."""
    from quota_watch.store.urls import mask_url_text

    dump = config.settings.model_dump(mode="json", exclude={"accounts"})
    dump["store"]["url"] = mask_url_text(config.store_url())
    dump["accounts"] = [
        {
            "name": a.name,
            "collector": a.collector,
            "interval": format_duration(a.interval),
            "group": a.group,
            "enabled": a.enabled,
            "options": a.options.model_dump(mode="json"),
            "limits": dict(a.cap_overrides),
        }
        for a in config.accounts
    ]
    return dump
