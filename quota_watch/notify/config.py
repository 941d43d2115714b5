"""The [[notifiers]] configuration: apprise URL (a secret), severities, mode and quiet hours."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from quota_watch.model import Severity
from quota_watch.units import Duration

__all__ = [
    "NotifierSettings",
    "QuietHours",
    "check_notifiers",
    "notifier_name",
]

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


def _default_severities() -> list[Severity]:
    return ["critical", "warning"]


class QuietHours(BaseModel, extra="forbid"):
    """A daily local-time window in which non-critical messages wait until the window ends."""

    start: str = Field("22:00", description="HH:MM local time the quiet window starts")
    end: str = Field("07:00", description="HH:MM local time it ends (may be after midnight)")
    tz: str = Field("UTC", description="IANA time zone of start and end, e.g. Europe/Berlin")
    allow_critical: bool = Field(True, description="critical messages are sent at once anyway")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a 24-hour HH:MM time (e.g. '22:00')")
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: the quiet window would be empty")
        return self

    @staticmethod
    def _clock_time(text: str) -> time:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))

    def window_end(self, now: datetime) -> datetime | None:
        """When the quiet window containing `now` ends (UTC), or None if `now` is not quiet."""
        zone = ZoneInfo(self.tz)
        local = now.astimezone(zone)
        start, end, clock = self._clock_time(self.start), self._clock_time(self.end), local.time()
        day = local.date()
        if start < end:
            if not start <= clock < end:
                return None
        elif clock >= start:
            day += timedelta(days=1)  # over midnight: ends tomorrow
        elif clock >= end:
            return None
        # Wall-clock arithmetic in the zone: a DST change inside the window moves the end
        # instant, not the local end time.
        return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


class NotifierSettings(BaseModel, extra="forbid"):
    """One [[notifiers]] entry: where messages go and which ones."""

    name: str | None = Field(
        None, pattern=_NAME, description="unique; default notifier-<index> (0-based)"
    )
    url: SecretStr = Field(description="any apprise URL; a secret, never shown")
    severities: list[Severity] = Field(
        default_factory=_default_severities,
        description="alert severities this notifier receives",
    )
    mode: Literal["immediate", "digest"] = Field(
        "immediate", description="immediate: one message per change; digest: one per interval"
    )
    digest_interval: Duration = Field(
        timedelta(hours=1), description="digest mode: how often a digest is sent"
    )
    quiet_hours: QuietHours | None = Field(
        None, description="messages held during this daily window"
    )
    format: Literal["text", "markdown"] = Field("markdown", description="message body format")

    @field_validator("severities")
    @classmethod
    def _severities(cls, value: list[Severity]) -> list[Severity]:
        if not value:
            raise ValueError("must name at least one severity (remove the notifier instead)")
        return list(dict.fromkeys(value))

    @field_validator("digest_interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("must be at least 1m")
        return value


def notifier_name(notifier: NotifierSettings, index: int) -> str:
    """The notifier's name: its `name`, or notifier-<index> (position in [[notifiers]])."""
    return notifier.name or f"notifier-{index}"


def check_notifiers(notifiers: Sequence[NotifierSettings]) -> list[str]:
    """Config-check problems as "notifiers[i].key: message" lines: duplicate names, unusable URLs.

    Imports apprise (heavy), so call it from `config check` and daemon start, not per request.
    """
    errors: list[str] = []
    # notify.deliver (asyncio, threads) only when there are notifiers to check.
    from quota_watch.notify.deliver import validate_url

    seen: dict[str, int] = {}
    for index, notifier in enumerate(notifiers):
        name = notifier_name(notifier, index)
        if name in seen:
            errors.append(
                f"notifiers[{index}].name: {name!r} is already used by notifiers[{seen[name]}]"
            )
        seen.setdefault(name, index)
        problem = validate_url(notifier.url.get_secret_value())
        if problem is not None:
            errors.append(f"notifiers[{index}].url: {problem}")
    return errors
