"""Options of the http_json collector: the endpoint, its request, and the limits read from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)

from quota_watch.sdk import LimitSpec, Scope, Unit, parse_duration, parse_quantity

if TYPE_CHECKING:
    pass

__all__ = ["DeclaredLimit", "HttpJsonOptions", "safe_url"]

_LIMIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def safe_url(url: str) -> str:
    """The URL without user info, query string or fragment: what messages may show."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid URL>"
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _jmespath(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"invalid JMESPath expression {expression!r}: {detail}") from None
    return expression


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _byte_size(value: Any) -> Any:
    return value if isinstance(value, int) else int(parse_quantity(value, Unit.BYTES))


JmesPath = Annotated[str, AfterValidator(_jmespath)]


class DeclaredLimit(LimitSpec):
    """A limit declared in `[accounts.options.limits.<name>]`: a LimitSpec plus where to read it.

    `value`, `cap_path` and `resource` are JMESPath expressions. Without `for_each` they are
    evaluated on the whole response; with it, on each element of the list `for_each` selects,
    giving one reading per element named by `resource`. `scale` converts the API's unit to the
    limit's base unit (1e9 when the API counts GB) and applies to `cap_path` as well.
    """

    value: JmesPath
    cap_path: JmesPath | None = None
    for_each: JmesPath | None = None
    resource: JmesPath | None = None
    scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _per_resource_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("for_each") is not None and "scope" not in data:
            data = {**data, "scope": Scope.RESOURCE.value}
        return data

    @model_validator(mode="after")
    def _check_resource(self) -> DeclaredLimit:
        if self.for_each is not None and self.resource is None:
            raise ValueError("for_each needs resource (a JMESPath naming each element)")
        if self.resource is not None and self.for_each is None:
            raise ValueError("resource applies only with for_each")
        if self.for_each is not None and self.scope is not Scope.RESOURCE:
            raise ValueError("a limit read with for_each is per resource: scope must be 'resource'")
        if self.for_each is None and self.scope is Scope.RESOURCE:
            raise ValueError("scope 'resource' needs for_each and resource")
        return self


class HttpJsonOptions(BaseModel):
    """`[accounts.options]` of an `http_json` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl = Field(repr=False, description="the JSON endpoint (http or https)")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="request headers; values are secrets, never shown"
    )
    body: dict[str, Any] | list[Any] | None = Field(
        default=None, repr=False, description="JSON body (POST only)"
    )
    timeout: Annotated[timedelta | None, BeforeValidator(_duration)] = Field(
        default=None, description="request timeout (default: the core's client timeout)"
    )
    auth_statuses: tuple[int, ...] = Field(
        default=(401, 403), description="HTTP statuses meaning the credentials were rejected"
    )
    max_response_size: Annotated[int, BeforeValidator(_byte_size)] = Field(
        default=16 * 2**20, gt=0, description="larger responses are refused (bytes or '16 MiB')"
    )
    max_elements: int = Field(
        default=1000,
        gt=0,
        le=100_000,
        description="a for_each list longer than this is refused (one reading per element)",
    )
    limits: dict[str, DeclaredLimit] = Field(
        min_length=1, description="one table per limit read from the response"
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if any(ch in secret.get_secret_value() for ch in "\r\n\0"):
                raise ValueError(f"header {name!r}: the value contains a line break or NUL")
        return value

    @field_validator("auth_statuses")
    @classmethod
    def _check_auth_statuses(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for status in value:
            if not 400 <= status <= 599 or status == 429:
                raise ValueError(f"{status}: auth statuses are HTTP 4xx/5xx codes other than 429")
        return value

    @field_validator("limits")
    @classmethod
    def _check_limit_names(cls, value: dict[str, DeclaredLimit]) -> dict[str, DeclaredLimit]:
        for name in value:
            if not _LIMIT_NAME.match(name):
                raise ValueError(
                    f"limit name {name!r}: use lowercase letters, digits and '_', "
                    "starting with a letter"
                )
        return value

    @model_validator(mode="after")
    def _body_needs_post(self) -> HttpJsonOptions:
        if self.body is not None and self.method != "POST":
            raise ValueError("body is sent only with method = 'POST'")
        return self

    @property
    def display_url(self) -> str:
        """The URL as messages and reprs show it (no user info, query string or fragment)."""
        return safe_url(str(self.url))

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", self.display_url
        yield from super().__repr_args__()
