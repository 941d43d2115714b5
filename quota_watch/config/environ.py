"""The QUOTA_WATCH_* environment overrides, read by pydantic-settings: imported only when such a
variable is set, so that a command run without one does not load pydantic-settings at all."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from quota_watch.config.files import ENV_PREFIX, env_override_problem
from quota_watch.config.settings import Settings

__all__ = ["EnvOverrideError", "EnvSettings", "with_environment"]

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("quota_watch_environ", default=None)


class EnvOverrideError(ValueError):
    """A QUOTA_WATCH_* variable pydantic-settings could not read; the message names it."""


class _InjectedEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading an injected mapping instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRON.get()
        if env is None:
            return super()._load_env_vars()
        return parse_env_vars(env, self.case_sensitive or False, self.env_ignore_empty)


class EnvSettings(Settings, BaseSettings):
    """Settings with environment variables overriding the file's values."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

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


def with_environment(data: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """`data` (the file's tables) validated as Settings with the variables of `env` overriding
    it (ValidationError as usual; EnvOverrideError for a variable that is not valid JSON)."""
    token = _ENVIRON.set(env)
    try:
        found = EnvSettings(**data)
    except SettingsError as exc:  # a QUOTA_WATCH_* variable holding malformed JSON
        raise EnvOverrideError(env_override_problem(exc, env)) from None
    finally:
        _ENVIRON.reset(token)
    values = {name: getattr(found, name) for name in Settings.model_fields}
    return Settings.model_construct(found.model_fields_set, **values)
