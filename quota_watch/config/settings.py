"""Configuration: the TOML file's model (QUOTA_WATCH_* overrides: config.environ)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from quota_watch.config.files import ENV_PREFIX
from quota_watch.engine.rulepack import RuleOverride
from quota_watch.notify.config import NotifierSettings
from quota_watch.units import Duration, Interval

if TYPE_CHECKING:
    from quota_watch.collect.registry import CollectorInfo
    from quota_watch.sdk.limits import LimitSpec

Path_ = tuple[str | int, ...]

ENV_CONFIG = "QUOTA_WATCH_CONFIG"
DEFAULT_LISTEN = "127.0.0.1:9877"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


# The server's checks live with its auth code (quota_watch.daemon.auth, which loads asyncio and
# ssl): imported when a setting needs one, not by every command that reads the config.


def _readable(path: Path) -> Path:
    from quota_watch.daemon.auth import check_readable

    return check_readable(path)


def _bcrypt_hash(value: SecretStr) -> SecretStr:
    from quota_watch.daemon.auth import check_hash

    return check_hash(value)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The HTTP endpoint serving /metrics, /healthz and /readyz."""

    listen: str = Field(DEFAULT_LISTEN, description="host:port to listen on; keep it on loopback")
    tls_cert_file: Annotated[Path, AfterValidator(_readable)] | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS with; needs tls_key_file"
    )
    tls_key_file: Annotated[Path, AfterValidator(_readable)] | None = Field(
        None, description="unencrypted PEM private key of tls_cert_file", validate_default=True
    )
    tls_client_ca_file: Annotated[Path, AfterValidator(_readable)] | None = Field(
        None, description="PEM CA bundle: require client certificates it signed (mutual TLS)"
    )
    tls_reload_interval: Duration = Field(
        timedelta(minutes=1),
        description="how often tls_cert_file and tls_key_file are checked for a renewal "
        "(SIGHUP re-reads them at once)",
    )
    basic_auth_users: dict[str, Annotated[SecretStr, AfterValidator(_bcrypt_hash)]] | None = Field(
        None,
        description="a [server.basic_auth_users] table of user = bcrypt hash (`quota-watch "
        "config hash-password`): protects /metrics and /readyz; /healthz stays open for probes",
    )
    page_refresh: Duration = Field(
        timedelta(minutes=1),
        description="how often the status page at / reloads itself (?refresh=0 turns it off)",
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
            from quota_watch.daemon.auth import check_tls_pair

            check_tls_pair(cert, value)
        return value

    @field_validator("tls_client_ca_file")
    @classmethod
    def _client_ca(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            if info.data.get("tls_cert_file") is None:
                raise ValueError("client certificates need TLS: set tls_cert_file too")
            from quota_watch.daemon.auth import check_ca_bundle

            check_ca_bundle(value)
        return value

    @field_validator("basic_auth_users")
    @classmethod
    def _user_names(cls, value: dict[str, SecretStr] | None) -> dict[str, SecretStr] | None:
        from quota_watch.daemon.auth import check_user_name

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
    rollup_interval: Interval = Field(
        timedelta(minutes=15), description="how often hourly/daily rollups are folded"
    )
    retention_interval: Interval = Field(
        timedelta(hours=6), description="how often old data is pruned"
    )
    retention: RetentionSettings = RetentionSettings()


class PollingSettings(_Section):
    """Scheduling defaults shared by every account."""

    interval: Interval = Field(timedelta(minutes=5), description="default poll interval")
    jitter: float = Field(
        0.1, ge=0, le=0.5, description="random delay as a fraction of the interval"
    )
    max_concurrency_per_provider: int = Field(
        8, ge=1, le=1000, description="simultaneous polls per provider"
    )
    timeout: Duration = Field(timedelta(seconds=30), description="HTTP timeout per request")
    backoff_max: Duration = Field(timedelta(hours=1), description="longest retry delay")
    auth_retry: Duration = Field(
        timedelta(hours=1),
        description="re-try an account whose credentials were rejected this often (a "
        "transient 401/403 heals itself; `quota-watch account resume` re-tries at once)",
    )

    @field_validator("auth_retry")
    @classmethod
    def _auth_retry_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
            raise ValueError("auth_retry: between 1m and 7d")
        return value

    poll_deadline: Duration | None = Field(
        None,
        description="time limit of a whole poll (every request of it); a poll past it counts "
        "as failed; default 1.5 x timeout",
    )
    max_retry_after: Duration = Field(
        timedelta(hours=24),
        description="longest pause a provider's Retry-After / rate-limit reset may impose",
    )

    def deadline(self) -> timedelta:
        """The time limit of one whole poll."""
        return self.poll_deadline if self.poll_deadline is not None else self.timeout * 1.5


class LoggingSettings(_Section):
    """Log output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json", "logfmt"] = "text"


class AlertSettings(_Section):
    """The rules engine and the notification outbox."""

    rule_pack: Path | None = Field(
        None, description="rule-pack TOML replacing the built-in rules/default.toml"
    )
    retry_initial: Duration = Field(
        timedelta(seconds=30), description="first retry delay of a failed notification"
    )
    retry_max: Duration = Field(timedelta(hours=1), description="longest retry delay")
    outbox_interval: Interval = Field(
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


class ClusterSettings(_Section):
    """Several daemons sharing one PostgreSQL store (docs/cluster.md); off by default."""

    enabled: bool = Field(
        False, description="join the group of daemons on this PostgreSQL store (not SQLite)"
    )
    member_id: str | None = Field(
        None, pattern=_NAME, description="this daemon's name in the group; default hostname-pid"
    )
    lease: Duration | None = Field(
        None,
        description="how long an account stays with a silent member; default 1.5 x the "
        "shortest poll interval (takeover within 2 intervals with the default heartbeat)",
    )
    heartbeat_interval: Duration | None = Field(
        None, description="how often members heartbeat and renew leases; default lease / 3"
    )

    @model_validator(mode="after")
    def _heartbeat_below_lease(self) -> ClusterSettings:
        if (
            self.lease is not None
            and self.heartbeat_interval is not None
            and self.heartbeat_interval * 2 > self.lease
        ):
            raise ValueError("heartbeat_interval: at most half the lease")
        return self


class AccountSettings(_Section):
    """One provider account to poll."""

    name: str = Field(pattern=_NAME, description="unique; the `account` label")
    collector: str = Field(description="collector name (see `quota-watch collectors list`)")
    interval: Interval | None = Field(None, description="poll interval; default polling.interval")
    group: str | None = Field(None, pattern=_NAME, description="shard pool this account is in")
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict, description="collector options")
    limits: dict[str, float | str] = Field(
        default_factory=dict, description="cap overrides: a number in base units, or '5 GB'"
    )


def _empty_list() -> list[Any]:
    return []


class Settings(_Section):
    """The whole configuration file."""

    # QUOTA_WATCH_* variables override it through pydantic-settings (config.environ), whose
    # BaseSettings validates defaults too: so does this model, with or without a variable.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    polling: PollingSettings = PollingSettings()
    logging: LoggingSettings = LoggingSettings()
    alerts: AlertSettings = AlertSettings()
    heartbeat: HeartbeatSettings = HeartbeatSettings()
    cluster: ClusterSettings = ClusterSettings()
    # The list factories are Python functions, not `list`: pydantic inspects a default
    # factory's signature, and the builtin's is a text signature that `inspect` tokenizes
    # (the first time, compiling tokenize's regular expressions: 2-3 % of `quota-watch report`).
    include: list[str] = Field(
        default_factory=_empty_list,
        description="more files adding [[accounts]], [[notifiers]], [[rules]], e.g. "
        '["conf.d/*.toml"]: relative to this file, read in file-name order',
    )
    accounts: list[AccountSettings] = Field(default_factory=_empty_list)
    rules: list[RuleOverride] = Field(default_factory=_empty_list)
    notifiers: list[NotifierSettings] = Field(default_factory=_empty_list)


def overrides_in(env: Mapping[str, str]) -> bool:
    """Whether `env` may hold a variable overriding a setting (QUOTA_WATCH_<FIELD>..., any
    case, as pydantic-settings matches them); QUOTA_WATCH_CONFIG alone is not one."""
    prefixes = tuple(f"{ENV_PREFIX}{name}".lower() for name in Settings.model_fields)
    return any(key.lower().startswith(prefixes) for key in env)


def file_settings(data: Mapping[str, Any]) -> Settings:
    """`data` (the file's tables, no variable overriding them) validated as Settings, its
    top-level keys matched to the fields as pydantic-settings matches them: in any case, the
    first of several spellings winning (config.environ validates the same with overrides)."""
    spellings: dict[str, list[str]] = {}
    for key in data:
        spellings.setdefault(key.lower(), []).append(key)
    left = set(data)
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        keys = [key for key in spellings.get(name, ()) if key in left]
        if keys:
            left.difference_update(keys)
            values[name] = data[keys[0]]
    values.update((key, value) for key, value in data.items() if key in left)
    return Settings.model_validate(values)


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
    limits: Mapping[str, LimitSpec] = field(default_factory=dict, compare=False)
    """The limits it is polled for, as validation resolved them (empty: not resolved)."""


@dataclass(frozen=True)
class Config:
    """A validated configuration and where it came from (None: the embedded default)."""

    settings: Settings
    accounts: tuple[AccountConfig, ...]
    source: Path | None
    includes: tuple[Path, ...] = ()  # files `include` added, in reading order
    collectors: Mapping[str, CollectorInfo] = field(default_factory=dict, compare=False)
    """The collectors the accounts use, as validation loaded them (name -> collector)."""

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
