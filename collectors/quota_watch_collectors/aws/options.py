"""Options of the aws collector: credentials, endpoint, and the switches for unconfirmed facts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from quota_watch.sdk import ApiBase, parse_duration

__all__ = [
    "CN_API_BASE",
    "DEFAULT_API_BASE",
    "AwsOptions",
]

# From botocore's endpoint rules (botocore/data/freetier/2023-09-07/endpoint-rule-set-1.json):
# the API is global; the aws partition is served at us-east-1 and signed for us-east-1, the
# aws-cn partition ("aws-cn-global") at cn-northwest-1.
DEFAULT_API_BASE = "https://freetier.us-east-1.api.aws"
CN_API_BASE = "https://freetier.cn-northwest-1.api.amazonwebservices.com.cn"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
# Partitions whose Free Tier endpoint botocore does not pin (GovCloud, ISO): not supported.
_UNSUPPORTED_PARTITIONS = ("us-gov-", "us-iso", "eu-isoe-", "eusc-")


def _check_region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name (e.g. 'us-east-1')")
    if value.startswith(_UNSUPPORTED_PARTITIONS):
        raise ValueError(
            f"{value!r}: the Free Tier API is only known in the aws and aws-cn partitions"
        )
    return value


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


class AwsOptions(BaseModel):
    """`[accounts.options]` of an `aws` account.

    Credentials: `access_key_id` + `secret_access_key` (+ `session_token` for temporary
    keys), or none of them to use botocore's usual credential chain (environment, shared
    files with `profile`, SSO, container or instance roles).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_key_id: SecretStr | None = Field(default=None, description="IAM access key ID")
    secret_access_key: SecretStr | None = Field(
        default=None, description="IAM secret access key (or secret_access_key_file)"
    )
    session_token: SecretStr | None = Field(
        default=None, description="session token of temporary credentials"
    )
    profile: str | None = Field(
        default=None, min_length=1, description="shared-config profile for the credential chain"
    )
    region: Annotated[str, AfterValidator(_check_region)] = Field(
        default="us-east-1",
        description="a region of the account's partition; cn-* selects the aws-cn endpoint",
    )
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="the Free Tier API root")
    page_size: int = Field(default=1000, ge=1, le=1000, description="maxResults per page")
    max_pages: int = Field(default=50, ge=1, le=1000, description="refuse longer pagination")
    account_plan: bool = Field(
        default=True, description="also call GetAccountPlanState (credits, plan expiry)"
    )
    forecasts: bool = Field(
        default=True,
        description="attach AWS's month-end forecast (forecastedUsageAmount) to each offer's "
        "reading as its provider forecast",
    )
    forecast_limits: bool = Field(
        default=False,
        description="deprecated: also report that forecast as the separate "
        "free_tier_forecast_* limits, as releases before the provider forecast did",
    )
    credit_grant: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="USD of credits granted (sign-up + earned); default: estimated from history",
    )
    free_plan_months: int = Field(default=6, ge=1, le=120, description="length of a FREE plan")
    paid_plan_months: int = Field(
        default=6, ge=1, le=120, description="how long PAID-plan credits last from sign-up"
    )
    gigabyte: Literal["GiB", "GB"] = Field(
        default="GiB", description="what AWS's 'GB' unit means: 2**30 (GiB) or 10**9 bytes"
    )
    throttle_retry_after: Annotated[timedelta, BeforeValidator(_duration)] = Field(
        default=timedelta(minutes=15),
        description="wait after ThrottlingException when AWS sends no Retry-After",
    )

    @model_validator(mode="after")
    def _check_credentials(self) -> AwsOptions:
        explicit = (self.access_key_id is not None, self.secret_access_key is not None)
        if explicit[0] != explicit[1]:
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        if self.session_token is not None and not explicit[0]:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        if self.profile is not None and explicit[0]:
            raise ValueError("profile selects chain credentials: drop it or the explicit keys")
        return self

    @property
    def partition(self) -> Literal["aws", "aws-cn"]:
        """The AWS partition the region belongs to."""
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    @property
    def signing_region(self) -> str:
        """The SigV4 region: the Free Tier API is global, signed for one region per partition."""
        return "cn-northwest-1" if self.partition == "aws-cn" else "us-east-1"

    @property
    def endpoint(self) -> str:
        """The API root to call: api_base, or the aws-cn endpoint for cn-* regions."""
        if self.partition == "aws-cn" and "api_base" not in self.model_fields_set:
            return CN_API_BASE
        return self.api_base

    @property
    def explicit_credentials(self) -> bool:
        """True when the keys are in the options, False for the credential chain."""
        return self.access_key_id is not None

    @property
    def gigabyte_bytes(self) -> float:
        """Bytes in one of AWS's 'GB'."""
        return 2.0**30 if self.gigabyte == "GiB" else 1e9
