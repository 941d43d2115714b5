"""Options of the prometheus collector: the API, its credentials, and the limits it queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from quota_watch.sdk import ApiBase, LimitSpec, Scope, Unit, parse_duration, parse_quantity

__all__ = ["PrometheusOptions", "QueriedLimit"]

_LIMIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _byte_size(value: Any) -> Any:
    return value if isinstance(value, int) else int(parse_quantity(value, Unit.BYTES))


def _promql(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty PromQL query")
    return value


PromQL = Annotated[str, BeforeValidator(_promql)]


class QueriedLimit(LimitSpec):
    """A limit declared in `[accounts.options.limits.<name>]`: a LimitSpec plus its queries.

    The used amount is `query` (PromQL) or the constant `value`; the cap is `cap_query`
    (PromQL, reported as the API's cap) or the LimitSpec's constant `cap`. With
    `resource_label`, every series of the result is one reading named by that label.
    """

    query: PromQL | None = None
    value: float | None = Field(default=None, description="a constant used amount")
    cap_query: PromQL | None = None
    resource_label: str | None = None
    scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("resource_label") is not None and "scope" not in data:
            data = {**data, "scope": Scope.RESOURCE.value}
        unit = data.get("unit")
        value = data.get("value")
        if isinstance(value, str) and isinstance(unit, str) and unit in set(Unit):
            data = {**data, "value": parse_quantity(value, unit)}
        return data

    @field_validator("resource_label")
    @classmethod
    def _check_label(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL_NAME.match(value):
            raise ValueError(f"{value!r} is not a Prometheus label name")
        return value

    @model_validator(mode="after")
    def _check(self) -> QueriedLimit:
        if (self.query is None) == (self.value is None):
            raise ValueError("give exactly one of query (PromQL) and value (a constant)")
        if self.value is not None and self.value < 0:
            raise ValueError("value must be >= 0")
        if self.cap_query is not None and self.cap is not None:
            raise ValueError("give at most one of cap_query (PromQL) and cap (a constant)")
        if self.resource_label is not None and self.query is None:
            raise ValueError("resource_label needs query")
        if self.resource_label is not None and self.scope is not Scope.RESOURCE:
            raise ValueError("a limit read per resource_label has scope 'resource'")
        if self.resource_label is None and self.scope is Scope.RESOURCE:
            raise ValueError("scope 'resource' needs resource_label")
        return self


class PrometheusOptions(BaseModel):
    """`[accounts.options]` of a `prometheus` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base: ApiBase = Field(
        description="root of the Prometheus HTTP API, without /api/v1 (e.g. "
        "http://127.0.0.1:9090 or a Grafana data-source proxy URL)"
    )
    username: str | None = Field(default=None, description="basic-auth user (needs password)")
    password: SecretStr | None = Field(
        default=None, description="basic-auth password; `password_file` in the config"
    )
    bearer_token: SecretStr | None = Field(
        default=None, description="sent as Authorization: Bearer; `bearer_token_file` in the config"
    )
    timeout: Annotated[timedelta | None, BeforeValidator(_duration)] = Field(
        default=None, description="request timeout (default: the core's client timeout)"
    )
    max_response_size: Annotated[int, BeforeValidator(_byte_size)] = Field(
        default=4 * 2**20, gt=0, description="larger responses are refused (bytes or '4 MiB')"
    )
    limits: dict[str, QueriedLimit] = Field(
        min_length=1, description="one table per limit, each with its query or constant"
    )

    @field_validator("limits")
    @classmethod
    def _check_limit_names(cls, value: dict[str, QueriedLimit]) -> dict[str, QueriedLimit]:
        for name in value:
            if not _LIMIT_NAME.match(name):
                raise ValueError(
                    f"limit name {name!r}: use lowercase letters, digits and '_', "
                    "starting with a letter"
                )
        return value

    @model_validator(mode="after")
    def _check_auth(self) -> PrometheusOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if self.password is not None and self.bearer_token is not None:
            raise ValueError("give either username/password or bearer_token, not both")
        return self

    @property
    def query_url(self) -> str:
        """The instant-query endpoint."""
        return f"{self.api_base}/api/v1/query"
