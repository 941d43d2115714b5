"""Provider payloads into pydantic models, with one validation-message format for every client."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from quota_watch.sdk.errors import UnexpectedResponse

__all__ = ["describe_problems", "parse_adapter", "parse_json", "parse_model"]

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")

_SHOWN = 3


def _location(loc: tuple[int | str, ...], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def describe_problems(exc: ValidationError, prefix: str = "") -> str:
    """`prefix.field.path[0]: message` for the first few errors, never the offending values."""
    errors = exc.errors(include_input=False, include_url=False)
    shown = "; ".join(f"{_location(e['loc'], prefix)}: {e['msg']}" for e in errors[:_SHOWN])
    more = len(errors) - _SHOWN
    return shown + (f" (+{more} more)" if more > 0 else "")


def _drifted(where: str, exc: ValidationError) -> UnexpectedResponse:
    return UnexpectedResponse(
        f"{where}: the response does not have the known shape: {describe_problems(exc)}"
    )


def parse_model(model: type[ModelT], data: Any, where: str) -> ModelT:
    """`data` (decoded JSON) as `model`, or UnexpectedResponse naming the fields that differ."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        failure = _drifted(where, exc)
    raise failure


def parse_adapter(adapter: TypeAdapter[T], data: Any, where: str) -> T:
    """`data` validated by a TypeAdapter (e.g. a list of models), same message format."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        failure = _drifted(where, exc)
    raise failure


def parse_json(content: bytes, where: str, content_type: str | None = None) -> Any:
    """A JSON body decoded, or UnexpectedResponse saying it is not JSON (never the body)."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        pass
    kind = content_type or "no content type"
    raise UnexpectedResponse(
        f"{where}: the response body is not JSON ({len(content)} bytes, {kind})"
    )
