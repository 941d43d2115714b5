"""The limits.toml schema: a collector's free-tier catalogue (provider facts and limit specs)."""

from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from quota_watch.config.errors import ConfigError, format_validation_error
from quota_watch.sdk import LimitSpec

__all__ = [
    "Catalogue",
    "CatalogueError",
    "LimitName",
    "Policy",
    "ProviderInfo",
    "load_catalogue",
    "parse_catalogue",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r}: use lowercase letters, digits and '_', starting with a letter"
        )
    return value


LimitName = Annotated[str, AfterValidator(_check_name)]
_TOML_POSITION = re.compile(
    r"^(?P<message>.*?)\s*\(at (?P<where>line \d+, column \d+|end of document)\)$"
)


class Policy(BaseModel):
    """Provider policy facts that shard advice must respect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    multi_account: Literal["allowed", "discouraged", "prohibited", "unknown"]
    commercial_use: Literal["allowed", "prohibited", "unknown"]
    notes: str = ""


class ProviderInfo(BaseModel):
    """Who the catalogue describes, where its caps come from and when a person last checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, AfterValidator(_check_name)]
    title: Annotated[str, StringConstraints(min_length=1)]
    source: str
    verified: datetime.date
    policy: Policy

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r}: must be the http(s) URL of the page the caps come from")
        return value

    @field_validator("verified", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        # A TOML datetime would be silently truncated by pydantic when its time is midnight.
        if isinstance(value, datetime.datetime):
            raise ValueError("must be a TOML date (e.g. 2026-11-22), not a date-time")
        return value


class Catalogue(BaseModel):
    """A collector's limits.toml: provider facts plus one LimitSpec per limit name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderInfo
    limits: dict[LimitName, LimitSpec] = Field(default_factory=dict)


class CatalogueError(ConfigError):
    """An invalid limits.toml; `errors` holds one "<toml path>: <message>" line per problem."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        super().__init__(errors)

    def __str__(self) -> str:
        return "\n".join(f"{self.path}: {error}" for error in self.errors)


def _syntax_error(exc: tomllib.TOMLDecodeError) -> str:
    text = str(exc)
    match = _TOML_POSITION.match(text)
    if match is None:
        return f"invalid TOML: {text}"
    return f"{match['where']}: invalid TOML: {match['message']}"


def parse_catalogue(text: str, source: str = "<string>") -> Catalogue:
    """Parse and validate limits.toml text; raises CatalogueError listing every problem."""
    path = Path(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(path, [_syntax_error(exc)]) from None
    try:
        return Catalogue.model_validate(data)
    except pydantic.ValidationError as exc:
        raise CatalogueError(path, format_validation_error(exc)) from None


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate a limits.toml file; raises CatalogueError (OSError if unreadable)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(path, [f"not valid UTF-8 (byte {exc.start})"]) from None
    return parse_catalogue(text, str(path))
