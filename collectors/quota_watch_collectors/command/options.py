"""Options of the command collector: the argv to run, its environment, and the limits it prints."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

from quota_watch.sdk import LimitSpec, Unit, parse_duration, parse_quantity

__all__ = ["INHERITED_ENV", "CommandOptions"]

_LIMIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The only variables of the daemon's own environment a command sees (plus `env`).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _byte_size(value: Any) -> Any:
    return value if isinstance(value, int) else int(parse_quantity(value, Unit.BYTES))


class CommandOptions(BaseModel):
    """`[accounts.options]` of a `command` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(
        min_length=1,
        description="argv: the program (a path, or a name looked up in PATH) and its "
        "arguments; never run through a shell",
    )
    env: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="extra environment variables for the command (values are secrets: use "
        "them for tokens, never argv)",
    )
    cwd: Path | None = Field(default=None, description="working directory (default: the daemon's)")
    timeout: Annotated[timedelta, BeforeValidator(_duration)] = Field(
        default=timedelta(seconds=30), description="the command is killed after this long"
    )
    output: Literal["json", "lines"] = Field(
        default="json",
        description="stdout format: json (a list of {limit, value, cap?, resource?}) or "
        "lines ('LIMIT VALUE [CAP]' per line)",
    )
    max_output_size: Annotated[int, BeforeValidator(_byte_size)] = Field(
        default=2**20, gt=0, description="larger stdout is refused and the command killed"
    )
    limits: dict[str, LimitSpec] = Field(
        min_length=1, description="one table per limit the command prints"
    )

    @field_validator("command")
    @classmethod
    def _check_command(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the program (first element) is empty")
        if len(value) == 1 and " " in value[0].strip():
            raise ValueError(
                "a single string with spaces is not run through a shell: give the program "
                'and each argument as list elements, e.g. ["/usr/local/bin/usage", "--json"]'
            )
        if any("\0" in part for part in value):
            raise ValueError("an argument contains NUL")
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if "\0" in secret.get_secret_value():
                raise ValueError(f"env {name!r}: the value contains NUL")
        return value

    @field_validator("limits")
    @classmethod
    def _check_limit_names(cls, value: dict[str, LimitSpec]) -> dict[str, LimitSpec]:
        for name in value:
            if not _LIMIT_NAME.match(name):
                raise ValueError(
                    f"limit name {name!r}: use lowercase letters, digits and '_', "
                    "starting with a letter"
                )
        return value

    @property
    def program(self) -> str:
        """The program, for messages (never the arguments: they are the user's to keep)."""
        return self.command[0]
