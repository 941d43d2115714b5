"""Pydantic models of the Netlify payloads the collector reads (unknown fields are ignored)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Account",
    "Bandwidth",
    "BuildMinutes",
    "BuildStatus",
    "Capabilities",
    "Capability",
    "ErrorBody",
    "minutes_number",
]


def minutes_number(value: Any) -> float | None:
    """A minute count the API sends as a string ("300", per the spec) or a number; None if absent.

    Anything else (a word, a negative or non-finite number) is a ValueError, so a drifted
    payload is reported rather than read as a cap.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number of minutes, got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("expected a number of minutes") from None
    else:
        raise ValueError("expected a number of minutes")
    if not math.isfinite(number) or number < 0:
        raise ValueError("expected a finite number of minutes >= 0")
    return number


MinuteCount = Annotated[float | None, BeforeValidator(minutes_number)]
Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Payload(BaseModel):
    """Provider payloads: extra fields are expected and ignored; known ones are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Capability(_Payload):
    """`accountUsageCapability`: an allowance and its use (`credits` on credit-based plans)."""

    included: Count | None = None
    used: Count


class Capabilities(_Payload):
    """The `capabilities` object of a team; only `credits` matters here."""

    credits: Capability | None = None


class Account(_Payload):
    """`accountMembership`: one team the token's user belongs to (GET /accounts)."""

    id: str = Field(min_length=1)
    slug: str
    name: str | None = None
    type_name: str | None = None
    capabilities: Capabilities | None = None


class Bandwidth(_Payload):
    """GET /accounts/{slug}/bandwidth (undocumented): bytes used in the team's billing period."""

    used: Count
    included: Count | None = None
    additional: Count | None = None
    last_updated_at: AwareDatetime | None = None
    period_start_date: AwareDatetime
    period_end_date: AwareDatetime


class BuildMinutes(_Payload):
    """`buildStatus.minutes`: build minutes used in the team's billing period."""

    current: Count
    previous: Count | None = None
    period_start_date: AwareDatetime
    period_end_date: AwareDatetime
    last_updated_at: AwareDatetime | None = None
    included_minutes: MinuteCount = None
    included_minutes_with_packs: MinuteCount = None


class BuildStatus(_Payload):
    """`buildStatus`: one element of GET /{account_id}/builds/status."""

    build_count: int | None = None
    minutes: BuildMinutes


class ErrorBody(BaseModel):
    """Netlify's `error` definition ({code, message}), sometimes sent where data was expected."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: int
    message: str
