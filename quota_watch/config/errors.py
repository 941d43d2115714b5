"""Configuration errors that name their TOML path, and readable pydantic validation messages."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pydantic

__all__ = ["ConfigError", "format_validation_error", "is_secret_name", "toml_path"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
# Substrings of a key name that mark its value as secret; deliberately broad, since showing a
# harmless value is cheap and leaking a token is not.
_SECRET_WORDS = ("token", "secret", "passw", "key", "auth", "credential", "cookie")
_MAX_INPUT_REPR = 40
_SHOWN_INPUT_TYPES = (str, int, float, dt.date, dt.time, dt.timedelta)
_GENERIC_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "set_type": "must be an array",
}
# Our own validators' messages already say what was wrong with the value.
_NO_INPUT_TYPES = frozenset({*_GENERIC_MESSAGES, "value_error", "assertion_error"})
_SHOULD = re.compile(r"^(?:Input|String|Value|Dictionary|List|Tuple|Set|Data|Decimal) should ")
_PREFIXES = ("Value error, ", "Assertion failed, ")


class ConfigError(Exception):
    """Invalid configuration; `errors` holds one "<toml path>: <message>" line per problem."""

    def __init__(self, errors: Iterable[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


def toml_path(loc: Sequence[str | int]) -> str:
    """Render a location as a TOML path: ('accounts', 1, 'x') -> "accounts[1].x"."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
            continue
        key = part if _BARE_KEY.match(part) else json.dumps(part, ensure_ascii=False)
        out.append(f".{key}" if out else key)
    return "".join(out)


def is_secret_name(name: str) -> bool:
    """Whether a key name suggests its value is a secret (token, password, API key, ...)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _short_repr(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_INPUT_REPR:
        text = text[: _MAX_INPUT_REPR - 1] + "…"
    return text


def _human_message(error_type: str, message: str) -> str:
    generic = _GENERIC_MESSAGES.get(error_type)
    if generic is not None:
        return generic
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return _SHOULD.sub("must ", message)


def _redact(message: str, value: Any) -> str:
    if not isinstance(value, str | int | float):
        return message
    message = message.replace(repr(value), "'***'")
    text = str(value)
    # A very short value would also match ordinary words of the message; its quoted repr is
    # gone already, which is how validators quote what they reject.
    if len(text) >= 4:
        message = message.replace(text, "***")
    return message


def format_validation_error(
    exc: pydantic.ValidationError,
    prefix: Sequence[str | int] = (),
    *,
    secret_keys: Collection[str] = (),
) -> list[str]:
    """One "<toml path>: <message>" line per error, worded for people and free of secrets.

    Values under keys that look secret (see is_secret_name) or are named in `secret_keys`
    (e.g. "url" for apprise URLs, which embed credentials) are never shown.
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: list[str | int] = [*prefix, *error["loc"]]
        key_error = bool(loc) and loc[-1] == "[key]"
        if key_error:
            loc.pop()
        value = error.get("input")
        secret = isinstance(value, pydantic.SecretStr | pydantic.SecretBytes) or any(
            isinstance(part, str) and (is_secret_name(part) or part in secret_keys) for part in loc
        )
        message = _human_message(error["type"], error["msg"])
        if isinstance(value, str) and "://" in value:
            # a URL may carry a password or an API key in its query: never echo those
            from quota_watch.config.redaction import mask_url

            message = message.replace(value, mask_url(value))
            value = mask_url(value)
        if secret:
            message = _redact(message, value)
        elif (
            error["type"] not in _NO_INPUT_TYPES
            and isinstance(value, _SHOWN_INPUT_TYPES)
            and repr(value) not in message
        ):
            message = f"{message} (got {_short_repr(value)})"
        if key_error:
            message = f"invalid key: {message}"
        lines.append(f"{toml_path(loc) or '<top level>'}: {message}")
    return lines
