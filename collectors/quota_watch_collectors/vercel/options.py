"""Options of the vercel collector, and its ServiceName/ConsumedUnit -> limit table."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_SERVICES",
    "LIMIT_KEYS",
    "ServiceMatch",
    "VercelOptions",
    "normalize_service",
    "normalize_unit",
]

DEFAULT_API_BASE = "https://api.vercel.com"

_TEAM_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SPACES = re.compile(r"\s+")
_UNIT_NOISE = re.compile(r"[\s_\-]+")


def normalize_service(name: str) -> str:
    """ServiceName as compared: case-insensitive, runs of whitespace as one space."""
    return _SPACES.sub(" ", name).strip().casefold()


def normalize_unit(unit: str) -> str:
    """ConsumedUnit as compared: case-insensitive, ignoring spaces, '-' and '_' ("GB-Hours")."""
    return _UNIT_NOISE.sub("", unit).casefold()


class ServiceMatch(BaseModel):
    """Which FOCUS rows feed one limit: their ServiceName values and ConsumedUnit factors.

    `names` are matched with `normalize_service`; `units` maps a ConsumedUnit (matched with
    `normalize_unit`) to the factor that converts a ConsumedQuantity into the limit's base unit
    (bytes, seconds, count; GB-seconds for the memory limits). Rows of a listed service in a
    unit missing here are not summed: that limit is left out and a warning names the unit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: tuple[str, ...] = Field(description="ServiceName values, compared case-insensitively")
    units: dict[str, float] = Field(
        min_length=1, description="ConsumedUnit -> factor to the limit's base unit"
    )

    @field_validator("names")
    @classmethod
    def _check_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not normalize_service(name) for name in value):
            raise ValueError("a service name must not be empty")
        return value

    @field_validator("units")
    @classmethod
    def _check_units(cls, value: dict[str, float]) -> dict[str, float]:
        for unit, factor in value.items():
            if not normalize_unit(unit):
                raise ValueError("a unit name must not be empty")
            if not factor > 0 or factor == float("inf"):
                raise ValueError(f"unit {unit!r}: the factor must be a finite number > 0")
        return value

    def unit_factors(self) -> dict[str, float]:
        """The unit table keyed by normalized unit."""
        return {normalize_unit(unit): factor for unit, factor in self.units.items()}


# --- the table ---------------------------------------------------------------------------------
# Every ServiceName and ConsumedUnit below is unconfirmed for Hobby teams (see README,
# "Unconfirmed"): the names come from Vercel's dashboard and pricing pages and from third-party
# code reading this feed; fix them per account with [accounts.options.services.<limit>].

_REQUESTS = {"requests": 1.0, "request": 1.0, "count": 1.0}
_INVOCATIONS = {"invocations": 1.0, "invocation": 1.0, "count": 1.0}
# Vercel writes "GB" and its caps in GB without saying decimal or binary; decimal is assumed.
# Usage and cap use the same word, so the utilization is right either way.
_BYTES = {
    "B": 1.0,
    "bytes": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 2.0**10,
    "MiB": 2.0**20,
    "GiB": 2.0**30,
    "TiB": 2.0**40,
}
_TIME = {
    "ms": 1e-3,
    "milliseconds": 1e-3,
    "s": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "hrs": 3600.0,
}
_CPU_TIME = {
    **_TIME,
    "CPU-ms": 1e-3,
    "CPU-seconds": 1.0,
    "CPU-hour": 3600.0,
    "CPU-hours": 3600.0,
    "CPU-hrs": 3600.0,
}
_GB_SECONDS = {
    "GB-s": 1.0,
    "GB-Second": 1.0,
    "GB-Seconds": 1.0,
    "GB-Hour": 3600.0,
    "GB-Hours": 3600.0,
    "GB-Hrs": 3600.0,
}
_IMAGES = {
    "transformation": 1.0,
    "transformations": 1.0,
    "image": 1.0,
    "images": 1.0,
    "source images": 1.0,
    "count": 1.0,
}

DEFAULT_SERVICES: dict[str, ServiceMatch] = {
    "edge_requests": ServiceMatch(names=("Edge Requests",), units=_REQUESTS),
    "fast_data_transfer": ServiceMatch(names=("Fast Data Transfer", "Data Transfer"), units=_BYTES),
    "fast_origin_transfer": ServiceMatch(names=("Fast Origin Transfer",), units=_BYTES),
    "function_invocations": ServiceMatch(
        names=("Function Invocations", "Serverless Function Invocations"), units=_INVOCATIONS
    ),
    "active_cpu": ServiceMatch(names=("Active CPU", "Fluid Active CPU"), units=_CPU_TIME),
    "provisioned_memory": ServiceMatch(
        names=("Provisioned Memory", "Fluid Provisioned Memory"), units=_GB_SECONDS
    ),
    "function_duration": ServiceMatch(
        names=("Function Duration", "Serverless Function Execution"), units=_GB_SECONDS
    ),
    "build_minutes": ServiceMatch(
        names=("Build Minutes", "Build Execution", "Build Time"), units=_TIME
    ),
    "image_transformations": ServiceMatch(
        names=("Image Transformations", "Image Optimization Transformations"), units=_IMAGES
    ),
    "image_source_images": ServiceMatch(
        names=("Image Optimization Source Images", "Source Images"), units=_IMAGES
    ),
}
LIMIT_KEYS: frozenset[str] = frozenset(DEFAULT_SERVICES)


def _api_base(value: str) -> str:
    import httpx

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise ValueError("not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) URL, e.g. 'https://api.vercel.com'")
    if url.userinfo or url.query or url.fragment:
        raise ValueError("must not carry user info, a query string or a fragment")
    return value.rstrip("/")


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class VercelOptions(BaseModel):
    """`[accounts.options]` of a `vercel` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(description="Vercel access token (scope: the Hobby team)")
    team_id: str | None = Field(
        default=None, description="team id (team_...); sent as ?teamId=, omitted when unset"
    )
    api_base: Annotated[str, AfterValidator(_api_base)] = Field(
        default=DEFAULT_API_BASE, description="API root"
    )
    window_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="days counted: today and the days before it (Hobby: a rolling 30 days)",
    )
    billing_tz: Annotated[str, AfterValidator(_time_zone)] = Field(
        default="America/Los_Angeles", description="time zone of Vercel's day boundaries"
    )
    absent_service_is_zero: bool = Field(
        default=False,
        description=(
            "read a limit with no rows as 0 when the feed has other usage rows "
            "(unconfirmed; off: such limits are left out)"
        ),
    )
    services: dict[str, ServiceMatch] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICES),
        description="per limit: ServiceName values and ConsumedUnit factors (merged over defaults)",
    )

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret.strip():
            raise ValueError("the token is empty")
        if any(ch.isspace() or ord(ch) < 32 for ch in secret):
            raise ValueError("the token contains whitespace or a control character")
        return value

    @field_validator("team_id")
    @classmethod
    def _check_team_id(cls, value: str | None) -> str | None:
        if value is not None and not _TEAM_ID.match(value):
            raise ValueError("a team id is letters, digits, '_' and '-' (e.g. 'team_abc123')")
        return value

    @field_validator("services", mode="before")
    @classmethod
    def _merge_services(cls, value: Any) -> Any:
        # The account's tables replace the default table of the same limit; the rest stay.
        if isinstance(value, Mapping):
            return {**DEFAULT_SERVICES, **value}
        return value

    @field_validator("services")
    @classmethod
    def _check_services(cls, value: dict[str, ServiceMatch]) -> dict[str, ServiceMatch]:
        unknown = sorted(set(value) - LIMIT_KEYS)
        if unknown:
            raise ValueError(
                f"unknown limit(s) {', '.join(unknown)} (known: {', '.join(sorted(LIMIT_KEYS))})"
            )
        owner: dict[str, str] = {}
        for limit, match in sorted(value.items()):
            for name in match.names:
                key = normalize_service(name)
                if key in owner and owner[key] != limit:
                    raise ValueError(
                        f"service {name!r} is listed for both {owner[key]} and {limit}"
                    )
                owner[key] = limit
        return value
